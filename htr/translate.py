"""Translation: recognised text machine-translated offline by Apertium (the Debian package
``apertium`` and its language pairs, such as ``apertium-eng-spa`` or ``apertium-fr-es``).

The pairs offered are the translation modes installed (``apertium -l``: ``eng-spa``, ``fr-es``
...), their languages named by ISO 639-1 codes as the rest of the library names them (``en``,
``fr``, ``es``: Apertium uses both three- and two-letter codes). Variants of a mode
(``eng-cat_valencia``, ``spa-eng_US``) are left out: the plain pair is the one offered.

A text is translated in one run of Apertium, so a sentence that goes on over the next line is
translated as a sentence; its line breaks are kept, so the translation has as many lines as the
text (a word may move to the neighbouring line where the other language orders words another way).
Every result says it is a machine translation.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field

import langcodes

from .errors import CodedError

#: The longest text translated at once, in characters (a page is about 2,000).
MAX_CHARACTERS = 20000
#: The names of the languages Debian's Apertium pairs translate between, for people; any other
#: is shown by its code.
LANGUAGE_NAMES = {"en": "English", "fr": "French", "es": "Spanish", "ca": "Catalan",
                  "pt": "Portuguese", "it": "Italian", "de": "German", "oc": "Occitan",
                  "gl": "Galician", "eo": "Esperanto", "an": "Aragonese", "ast": "Asturian",
                  "eu": "Basque", "ro": "Romanian", "nl": "Dutch", "af": "Afrikaans",
                  "nb": "Norwegian Bokmål", "nn": "Norwegian Nynorsk", "sv": "Swedish",
                  "da": "Danish", "is": "Icelandic", "cy": "Welsh", "br": "Breton", "mt": "Maltese"}
#: What :class:`TranslationError` says went wrong, for programs.
TRANSLATION_ERROR_CODES = ("unavailable", "not_offered", "too_long", "empty", "failed")
#: The note every translation carries.
MACHINE_TRANSLATION = "Machine translation (Apertium)"

_MODE = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")  # a plain pair: eng-spa, fr-es


class TranslationError(CodedError):
    """Text that could not be translated: Apertium missing, no pair installed from the text's
    language to the target, the text empty or too long. ``code`` is one of
    :data:`TRANSLATION_ERROR_CODES`."""

    CODES = TRANSLATION_ERROR_CODES


@dataclass(frozen=True)
class Pair:
    """One installed translation direction: ISO 639-1 ``source`` and ``target``, and Apertium's
    ``mode`` that translates it."""

    source: str
    target: str
    mode: str


@dataclass(frozen=True)
class Availability:
    """Whether Apertium can be run here, its pairs, or the reason it cannot."""

    available: bool
    pairs: tuple[Pair, ...] = ()
    reason: str | None = None


@dataclass
class Translation:
    """A text translated line by line: ``lines`` has one entry per line of the source text."""

    text: str
    lines: list[str]
    source: str
    target: str
    mode: str
    engine: str = "apertium"
    machine_translation: bool = True
    note: str = field(default=MACHINE_TRANSLATION)

    def to_dict(self) -> dict:
        return asdict(self)


def code(language: str) -> str:
    """The ISO 639-1 code of a language named by a two- or three-letter code (``eng`` -> ``en``);
    ``language`` itself when it is not one."""
    try:
        return langcodes.standardize_tag(language)
    except ValueError:  # not a language tag
        return language


def name(language: str) -> str:
    """A language's English name (``es`` -> Spanish), or its code when it is not known here."""
    return LANGUAGE_NAMES.get(language, language)


@functools.lru_cache(maxsize=8)
def _installed(path: str) -> tuple[Pair, ...]:
    out = subprocess.run([path, "-l"], capture_output=True, text=True, timeout=30)
    pairs = []
    for mode in out.stdout.split():
        m = _MODE.match(mode)
        if m:
            pairs.append(Pair(code(m.group(1)), code(m.group(2)), mode))
    # Both spellings of one direction (fra-cat and fr-ca): the first, in apertium's order.
    seen, unique = set(), []
    for p in pairs:
        if (p.source, p.target) not in seen:
            seen.add((p.source, p.target))
            unique.append(p)
    return tuple(unique)


def available(command: str = "apertium") -> Availability:
    """Whether ``command`` (apertium) is installed, with its pairs, and why not when it is not
    (or has no pair)."""
    path = shutil.which(command)
    if path is None:
        return Availability(False, reason=f"{command} is not installed: translation needs "
                                          "Apertium and a language pair (Debian: apt-get install "
                                          "apertium apertium-eng-spa)")
    try:
        pairs = _installed(path)
    except (OSError, subprocess.SubprocessError) as exc:
        return Availability(False, reason=f"{command} does not run: {exc}")
    if not pairs:
        return Availability(False, reason="Apertium has no language pair installed (Debian: "
                                          "apt-get install apertium-eng-spa)")
    return Availability(True, pairs)


def pairs(command: str = "apertium") -> tuple[Pair, ...]:
    """The installed pairs (none when Apertium is missing)."""
    return available(command).pairs


def targets(language: str | None, command: str = "apertium") -> list[str]:
    """The languages a text in ``language`` can be translated into here, sorted (none: no pair
    installed for it, or Apertium missing)."""
    if not language:
        return []
    source = code(language)
    return sorted({p.target for p in pairs(command) if p.source == source})


def translate(text: str, source: str, target: str, *, max_characters: int = MAX_CHARACTERS,
              command: str = "apertium", timeout: float = 60) -> Translation:
    """``text`` in ``source`` translated into ``target``, line by line (see the module).

    Raises :class:`TranslationError`: ``unavailable`` (Apertium missing), ``not_offered`` (no
    pair installed for these languages), ``empty``, ``too_long`` or ``failed``."""
    status = available(command)
    if not status.available:
        raise TranslationError("unavailable", status.reason or "Apertium is not available")
    src, tgt = code(source or ""), code(target or "")
    if not src or not tgt:
        raise TranslationError("not_offered", "Say which language the text is in and which to "
                                              "translate it into (codes such as en, fr, es).")
    pair = next((p for p in status.pairs if p.source == src and p.target == tgt), None)
    if pair is None:
        offered = targets(src, command)
        raise TranslationError("not_offered", (
            f"No translation from {name(src)} ({src}) to {name(tgt)} ({tgt}) is installed; from "
            f"{name(src)}: {', '.join(f'{name(t)} ({t})' for t in offered)}." if offered else
            f"No translation from {name(src)} ({src}) is installed."))
    if not text or not text.strip():
        raise TranslationError("empty", "There is no text to translate.")
    if len(text) > max_characters:
        raise TranslationError("too_long", f"The text is {len(text):,} characters long: at most "
                                           f"{max_characters:,} are translated at once.")
    source_lines = text.splitlines()
    try:
        # -u: no asterisks on the words Apertium does not know (they are left as they are).
        out = subprocess.run([shutil.which(command), "-u", pair.mode],
                             input="\n".join(source_lines) + "\n", capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TranslationError("failed", f"Apertium took more than {timeout:g} s") from None
    if out.returncode != 0:
        raise TranslationError("failed", f"Apertium failed: {out.stderr.strip()[:300]}")
    lines = [line.strip() for line in out.stdout.rstrip("\n").split("\n")]
    if len(lines) != len(source_lines):
        # Line breaks are blanks Apertium keeps; should one be lost, each line on its own.
        lines = [_one_line(line, pair.mode, command, timeout) for line in source_lines]
    return Translation("\n".join(lines), lines, src, tgt, pair.mode)


def _one_line(line: str, mode: str, command: str, timeout: float) -> str:
    if not line.strip():
        return ""
    out = subprocess.run([shutil.which(command), "-u", mode], input=line + "\n",
                         capture_output=True, text=True, timeout=timeout)
    return " ".join(out.stdout.split())
