"""The models a server offers: the shipped model and every model folder in a models folder (one
sub-folder per model, e.g. those ``python -m htr finetune`` writes), found by name, listed with a
summary of their cards.

A name is a folder name of letters, digits, ``.``, ``_`` and ``-`` (never a path): a request that
names a model cannot reach outside the models folder.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import ModelError
from .model import CHARSET_FILE, CONFIG_FILE, MODEL_FILE

#: What a model's name may be (a folder name, never a path).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: The models folder when none is set: outside the repository, beside the app's other data.
DEFAULT_MODELS_DIR = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "htr" / "models"


class UnknownModel(ModelError):
    """A model was named that is not offered (``known``: the names that are)."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, known
        super().__init__(f"There is no model {name!r}: choose one of {', '.join(known)}.")


@dataclass
class ModelInfo:
    """One offered model: its name, folder, the model it was fine-tuned from (None for a model
    trained from scratch), when it was made, and a line of its card."""

    name: str
    path: str
    base: str | None
    created: str
    summary: str
    default: bool = False
    card: dict | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("path")  # the server's folders are not the client's business
        return out


def is_model_dir(path: Path) -> bool:
    return all((path / f).is_file() for f in (MODEL_FILE, CHARSET_FILE, CONFIG_FILE))


class ModelStore:
    """The shipped (default) model and the model folders under ``folder``."""

    def __init__(self, default: str | Path, folder: str | Path | None = None) -> None:
        self.default = Path(default)
        self.folder = Path(folder) if folder else DEFAULT_MODELS_DIR

    @property
    def default_name(self) -> str:
        return self.default.name

    def path_for(self, name: str) -> Path:
        """The folder of a new model ``name`` (not yet written); :class:`ModelError` for a name
        that is not a plain folder name or that is taken."""
        if not NAME.fullmatch(name or ""):
            raise ModelError(f"{name!r} is not a model name: use letters, digits, '.', '_' and "
                             "'-' (up to 64), starting with a letter or digit.")
        if name == self.default_name or (self.folder / name).exists():
            raise ModelError(f"There is already a model {name!r}: choose another name.")
        return self.folder / name

    def find(self, name: str | None) -> Path:
        """The folder of the model ``name`` (None or the default's name: the default model);
        :class:`UnknownModel` when there is none."""
        if not name or name == self.default_name:
            return self.default
        path = self.folder / name
        if NAME.fullmatch(name) and is_model_dir(path):
            return path
        raise UnknownModel(name, [m.name for m in self.list()])

    def list(self) -> list[ModelInfo]:
        """The default model first, then the folder's models, newest first."""
        models = [describe(self.default, default=True)]
        if self.folder.is_dir():
            found = [describe(p) for p in self.folder.iterdir()
                     if p.is_dir() and NAME.fullmatch(p.name) and p.name != self.default_name
                     and is_model_dir(p)]
            models += sorted(found, key=lambda m: m.created, reverse=True)
        return models


def describe(path: Path, default: bool = False) -> ModelInfo:
    """A model folder's :class:`ModelInfo`, from its ``finetune.json`` when it has one, else from
    its README's title and its weights' date."""
    from .finetune import read_card

    card = read_card(path)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((path / MODEL_FILE).stat().st_mtime))
    if card is not None:
        base_cer, cer = card.get("base_cer"), card.get("cer")
        scores = (f"; held-back pages CER {base_cer:.1%} -> {cer:.1%}"
                  if base_cer is not None and cer is not None else "")
        pages = card.get("train_pages")
        summary = (f"fine-tuned on {card.get('train_lines')} lines of {pages} "
                   f"page{'' if pages == 1 else 's'} in {card.get('seconds', 0):.0f} s{scores}")
        short = {k: card.get(k) for k in ("data", "train_lines", "train_pages", "val_lines",
                                          "val_pages", "base_cer", "cer", "seconds", "words_added")}
        return ModelInfo(path.name, str(path), Path(card.get("base", "")).name or None,
                         card.get("created") or created, summary, default, short)
    summary = ""
    readme = path / "README.md"
    if readme.is_file():
        # The card's first paragraph of prose (its lines joined), up to its first sentence's end.
        paragraph: list[str] = []
        for line in readme.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip() and not line.startswith("#"):
                paragraph.append(line.strip())
            elif paragraph:
                break
        if paragraph:
            summary = re.split(r"(?<=[.:])\s", " ".join(paragraph))[0].rstrip(":.")
    return ModelInfo(path.name, str(path), None, created, summary[:200], default, None)


__all__ = ["ModelStore", "ModelInfo", "UnknownModel", "describe", "DEFAULT_MODELS_DIR", "NAME"]
