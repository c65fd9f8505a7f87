"""What every data reader yields: :class:`Sample`, and how samples are split by writer or document."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: Loads a sample's image as 8-bit grey (ink dark on light). ``rng`` is None for the canonical
#: version (validation, previews); a generator asks for a randomised one (rendered ink varies).
ImageLoader = Callable[[np.random.Generator | None], np.ndarray]


@dataclass(frozen=True)
class Sample:
    """One training or evaluation item: an image (loaded lazily) and its normalised text.

    ``group`` is the unit that must not cross the train/validation split: a writer, an IAM form
    group, a letter. ``split`` is "train", "val" or "test" when the data set says (IAM split
    lists); None leaves it to :func:`split_of` on the group.
    """

    id: str
    text: str
    group: str
    load: ImageLoader = field(repr=False, compare=False)
    split: str | None = None
    source: str = ""

    def image(self, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.load(rng)


def group_split(group: str, val_fraction: float = 0.1) -> str:
    """Deterministic split of a group by a hash of its name: the same on every machine and run,
    and independent of what other data is loaded beside it."""
    digest = hashlib.md5(group.encode("utf-8")).digest()
    return "val" if int.from_bytes(digest[:4], "big") / 2**32 < val_fraction else "train"


def split_of(sample: Sample, val_fraction: float = 0.1) -> str:
    return sample.split or group_split(sample.group, val_fraction)
