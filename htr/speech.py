"""Speech: recognised text spoken aloud, offline, by eSpeak NG (the Debian package ``espeak-ng``),
in the text's language, as WAV bytes.

espeak-ng is run as a subprocess (no shell; the text goes in on standard input, so no text can be
taken for an option). It writes its WAV to standard output with a placeholder length (it does not
know it before the end), which :func:`speak` rewrites with the :mod:`wave` module so that every
player and parser sees the right duration.

Ogg is not offered: espeak-ng writes only WAV, and encoding Vorbis or Opus would take another
package (a Python binding or ``vorbis-tools``) for audio that compresses a few times smaller.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from dataclasses import dataclass

from .errors import CodedError

#: The longest text spoken at once, in characters: about three minutes of speech, 8 MB of WAV.
#: (A page's lines can be spoken one by one, each well under it.)
MAX_CHARACTERS = 3000
#: espeak-ng's voice for each language a page is read in (:data:`htr.lexicon.LANGUAGES`); any other
#: language is spoken by espeak-ng's voice of that name, when it has one.
VOICES = {"en": "en-gb", "fr": "fr-fr"}
#: Words per minute: espeak-ng's own default, and the range it speaks clearly in.
DEFAULT_RATE, MIN_RATE, MAX_RATE = 175, 80, 450
#: What :class:`SpeechError` says went wrong, for programs.
SPEECH_ERROR_CODES = ("unavailable", "too_long", "empty", "no_voice", "invalid_rate", "failed")


class SpeechError(CodedError):
    """Text that could not be spoken: espeak-ng missing, the text empty or too long, no voice for
    its language. ``code`` is one of :data:`SPEECH_ERROR_CODES`."""

    CODES = SPEECH_ERROR_CODES


@dataclass(frozen=True)
class Availability:
    """Whether espeak-ng can be run here: its version, or the reason it cannot."""

    available: bool
    version: str | None = None
    reason: str | None = None


def available(command: str = "espeak-ng") -> Availability:
    """Whether ``command`` (espeak-ng) is installed and runs, and why not when it does not."""
    path = shutil.which(command)
    if path is None:
        return Availability(False, reason=f"{command} is not installed: speech needs eSpeak NG "
                                          "(Debian: apt-get install espeak-ng)")
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return Availability(False, reason=f"{command} does not run: {exc}")
    if out.returncode != 0:
        return Availability(False, reason=f"{command} does not run: {out.stderr.strip()[:200]}")
    # "eSpeak NG text-to-speech: 1.51  Data at: ..."
    version = out.stdout.split(":", 1)[-1].split("Data at")[0].strip() or None
    return Availability(True, version=version)


@functools.lru_cache(maxsize=8)
def _voices(command: str) -> frozenset[str]:
    """The language names espeak-ng has voices for (``en``, ``en-gb``, ``fr-fr`` ...)."""
    out = subprocess.run([command, "--voices"], capture_output=True, text=True, timeout=10)
    # Columns: Pty Language Age/Gender VoiceName File Other-languages
    return frozenset(line.split()[1] for line in out.stdout.splitlines()[1:] if len(line.split()) > 1)


def voice_for(language: str | None, command: str = "espeak-ng") -> str:
    """espeak-ng's voice for ``language`` (``en``, ``fr``, or any language espeak-ng speaks, such
    as a translation's ``es``); no language: English."""
    language = (language or "en").lower()
    if language in VOICES:
        return VOICES[language]
    path = _require(command)
    if language not in _voices(path):
        raise SpeechError("no_voice", f"espeak-ng has no voice for the language {language!r}")
    return language


def speak(text: str, language: str | None = "en", *, rate: int = DEFAULT_RATE,
          max_characters: int = MAX_CHARACTERS, command: str = "espeak-ng",
          timeout: float = 60) -> bytes:
    """``text`` spoken in ``language``'s voice at ``rate`` words per minute: a WAV file's bytes
    (16-bit mono, espeak-ng's 22,050 Hz).

    Raises :class:`SpeechError`: ``empty`` (nothing to say), ``too_long`` (more than
    ``max_characters``), ``invalid_rate``, ``no_voice``, ``unavailable`` (espeak-ng missing) or
    ``failed``."""
    if not text or not text.strip():
        raise SpeechError("empty", "There is no text to speak.")
    if len(text) > max_characters:
        raise SpeechError("too_long", f"The text is {len(text):,} characters long: at most "
                                      f"{max_characters:,} are spoken at once. Speak it in parts "
                                      "(a line or a page at a time).")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise SpeechError("invalid_rate", f"The rate is {rate} words per minute: choose one from "
                                          f"{MIN_RATE} to {MAX_RATE}.")
    path = _require(command)
    voice = voice_for(language, command)
    try:
        # -b 1: the text is UTF-8; --stdin: read it from standard input, not the arguments.
        out = subprocess.run([path, "-v", voice, "-s", str(rate), "-b", "1", "--stdout", "--stdin"],
                             input=text.encode("utf-8"), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SpeechError("failed", f"espeak-ng took more than {timeout:g} s") from None
    if out.returncode != 0 or not out.stdout.startswith(b"RIFF"):
        raise SpeechError("failed", "espeak-ng failed: "
                          + (out.stderr.decode("utf-8", "replace").strip()[:300] or "no WAV written"))
    return _fixed_wav(out.stdout)


def duration(wav: bytes) -> float:
    """How long a WAV file's audio lasts, in seconds."""
    with wave.open(io.BytesIO(wav)) as w:
        return w.getnframes() / w.getframerate()


def _require(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        raise SpeechError("unavailable", available(command).reason or f"{command} is missing")
    return path


def _fixed_wav(streamed: bytes) -> bytes:
    """A WAV file with true lengths in its header, from espeak-ng's streamed one (whose RIFF and
    data lengths are placeholders)."""
    with wave.open(io.BytesIO(streamed)) as r:
        params = r.getparams()
        frames = r.readframes(r.getnframes())  # the placeholder count: reads to the end
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(params.nchannels)
        w.setsampwidth(params.sampwidth)
        w.setframerate(params.framerate)
        w.writeframes(frames)
    return out.getvalue()
