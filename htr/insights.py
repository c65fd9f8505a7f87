"""Understand a read text: its key phrases and the entities a reader of letters, notes and forms
looks for (dates and times, amounts of money, phone numbers, e-mail addresses, URLs), each with
its exact place in the text and a normalised value.

Everything runs offline, with a library made for each job:

* key phrases: YAKE (``yake``), with the stop words of the text's language; at most a few, each
  given as it is written in the text, where it first occurs;
* dates and times: ``dateparser`` reads them in the text's language, day before month
  (:data:`DATE_ORDER`: British and French letters write 3/4/21 for the 3rd of April). Its search
  (``search_dates``) gives the candidates, with every month's name, numeric date and clock time
  in the text (its search drops a whole sentence for one misread word). dateparser is eager (it
  reads "may", "now", "second", "We" or a bare "1887" as dates), so a candidate is kept only when
  it holds a digit and a month's name (capitalised in English: "may" is a verb), a numeric date
  (3/4/21, 1887-03-03) or a clock time (10:30, 14h30, 3 pm); relative words ("tomorrow") are
  left out, as a letter's "tomorrow" has no date we can know. Two-digit years are dateparser's
  (Python's) reading, 69-99 in the 1900s and 00-68 in the 2000s: a letter's "Dec 21/95" comes
  out as 1995-12-21 even when it was written in 1895;
* amounts of money: candidates around currency signs, codes and names, normalised by
  ``price-parser``; pre-decimal British money (£2.10s, 5s. 6d.) is counted in pounds:
  20 shillings to the pound, 12 pence to the shilling, so £2.10s is 2.50 GBP;
* phone numbers: ``phonenumbers``' matcher, numbers without a country code taken to be of the
  language's country (:data:`REGIONS`: GB for English, FR for French), given in E.164;
* e-mail addresses and URLs: no library for finding them in running text is among the
  project's dependencies, so a documented pattern each (:data:`EMAIL`, :data:`URL`), the URL
  checked with :func:`urllib.parse.urlsplit`.

Where two entities overlap the more specific wins (:data:`PRIORITY`): an e-mail address over
the URL-looking domain in it, a phone number over the date dateparser sees in its digits.

The heavy parts (dateparser's language data, YAKE's stop words) are loaded once per process and
per language, on first use (:func:`warm_up` does it ahead).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from .errors import HTRError

#: The languages understood, as :mod:`htr.lexicon` names them.
LANGUAGES: tuple[str, ...] = ("en", "fr")
#: The country a phone number written without its country code is taken to be of.
REGIONS: dict[str, str] = {"en": "GB", "fr": "FR"}
#: Day before month in numeric dates (3/4/21 is the 3rd of April): the order of British and
#: French writing, the languages (and the letters) the model reads.
DATE_ORDER = "DMY"
#: Languages that write the months' names with a capital letter (only those count as months).
CAPITALISED_MONTHS = frozenset({"en"})
#: Entity kinds, most specific first: an entity overlapping one found earlier in this order is
#: dropped.
PRIORITY: tuple[str, ...] = ("email", "url", "phone", "money", "date", "time")
ENTITY_KINDS = PRIORITY
#: Key phrases given at most, and words per phrase at most.
MAX_PHRASES = 5
MAX_PHRASE_WORDS = 3

#: An e-mail address as people write them (RFC 5322's quoted and bracketed forms left out): a
#: local part of letters, digits and ``._%+-`` that neither starts nor ends with a dot, then a
#: domain of two or more labels ending in a top-level domain of letters.
EMAIL = re.compile(r"(?<![\w.%+-])[\w%+-](?:[\w.%+-]*[\w%+-])?@(?:[^\W_](?:[\w-]*[^\W_])?\.)+"
                   r"[^\W\d_]{2,}(?![\w-])")
#: A URL written with its scheme (http, https) or starting with ``www.``, up to the next space
#: or angle bracket or quote; punctuation that ends a sentence is trimmed afterwards.
URL = re.compile(r"(?<![\w@.])(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?'\")]}»"

#: A numeric date (3/4/21, 03.04.1921, 1887-03-03) and a clock time (10:30, 14h30, 3 pm): one
#: of them, or a month's name, must be in what dateparser found for it to be a date.
_NUMERIC_DATE = re.compile(r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2})\b")
_CLOCK = re.compile(r"\b\d{1,2}(?:[:h]\d{2}\b|\s?(?:[ap]\.?m\b\.?))", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)

#: Currency signs, codes and names (after the number) and their ISO 4217 codes. ``$`` is read
#: as US dollars and ``francs`` as French francs (the francs of letters written before 2002).
CURRENCY_CODES: dict[str, str] = {
    "£": "GBP", "€": "EUR", "$": "USD", "¥": "JPY", "₣": "FRF",
    "gbp": "GBP", "eur": "EUR", "usd": "USD", "chf": "CHF", "jpy": "JPY", "cad": "CAD",
    "aud": "AUD", "frf": "FRF",
    "pound": "GBP", "pounds": "GBP", "euro": "EUR", "euros": "EUR", "dollar": "USD",
    "dollars": "USD", "franc": "FRF", "francs": "FRF", "livres sterling": "GBP",
}
_AMOUNT = r"\d{1,3}(?:[ \u00a0\u202f,.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_SIGN = r"[£€$¥₣]"
_CODE = r"\b(?:GBP|EUR|USD|CHF|JPY|CAD|AUD|FRF)\b"
_NAME = r"(?:livres sterling|pounds?|euros?|dollars?|francs?)\b"
MONEY = re.compile(
    rf"(?:{_SIGN}|{_CODE})\s?(?:{_AMOUNT})"              # £12.50, EUR 12.50
    rf"|(?<![\d.,])(?:{_AMOUNT})\s?(?:{_SIGN}|{_CODE}|{_NAME})",  # 12,50 €, 12.50 EUR, 3 francs
    re.IGNORECASE)
#: Pre-decimal British money: pounds, shillings and pence (£2.10s, £2 10s 6d, £2.10s.6d, 5s. 6d.,
#: and with three numbers, which decimal money never has: £2/10/6, £12.10.6, £1/5/-). A full
#: stop after the last ``s`` or ``d`` is left to the sentence.
OLD_MONEY = re.compile(
    r"£\s?(?P<l>\d+)"
    r"(?:[.\s/-]\s?(?P<s>\d{1,2})s\b(?:\.?\s?(?P<d>\d{1,2}[½¼¾]?)d\b)?"
    r"|[./-](?P<s2>\d{1,2})[./-](?P<d2>\d{1,2}[½¼¾]?(?![\d.,]?\d)|-))"
    r"|(?<![\w£.])(?P<s3>\d{1,2})s\.?\s?(?P<d3>\d{1,2}[½¼¾]?)d\b")


class InsightsError(HTRError):
    """A text cannot be understood: a language the module has no data for."""


@dataclass(frozen=True)
class Entity:
    """Something found in the text: its ``kind`` (one of :data:`ENTITY_KINDS`), its ``text``
    exactly as written, where it is (``text[start:end]`` of the text it was found in) and its
    normalised ``value``: an ISO 8601 date, date and time or time (``1887-03-03``,
    ``2021-04-03T10:30``, ``--03-03`` when no year was written, ``10:30``), ``{"amount",
    "currency"}`` for money (a number, an ISO 4217 code), a phone number in E.164
    (``+442079460958``), a lower-cased e-mail address, or a URL with its scheme."""

    kind: str
    text: str
    start: int
    end: int
    value: object

    def to_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text, "start": self.start, "end": self.end,
                "value": self.value}


@dataclass(frozen=True)
class KeyPhrase:
    """A key phrase as written where it first occurs (``text[start:end]``), and its YAKE score
    (lower is more relevant)."""

    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end,
                "score": round(self.score, 5)}


@dataclass(frozen=True)
class Insights:
    """What :func:`understand` found in a text read in ``language``."""

    language: str
    key_phrases: tuple[KeyPhrase, ...] = ()
    entities: tuple[Entity, ...] = field(default=())

    def to_dict(self) -> dict:
        return {"language": self.language,
                "key_phrases": [k.to_dict() for k in self.key_phrases],
                "entities": [e.to_dict() for e in self.entities]}


def understand(text: str, language: str | None = "en", max_phrases: int = MAX_PHRASES) -> Insights:
    """The key phrases and entities of ``text``, written in ``language`` (``en``, ``fr``; None:
    English, as for a page read without a lexicon)."""
    language = _language(language)
    found = entities(text, language)
    # A phrase that is (part of) an entity is shown as the entity: "March", "write on Thursday".
    phrases = [k for k in key_phrases(text, language, max_phrases * 2)
               if all(k.end <= e.start or k.start >= e.end for e in found)]
    return Insights(language, tuple(phrases[:max_phrases]), tuple(found))


def page_insights(page) -> dict:
    """A read :class:`~htr.results.Page`'s insights as its JSON gives them (offsets into the
    page's ``text``: its lines joined by newlines), in the language it was read in."""
    return understand(page.text, page.language).to_dict()


def _language(language: str | None) -> str:
    language = language or "en"
    if language not in LANGUAGES:
        raise InsightsError(f"cannot understand text in {language!r}: the languages known are "
                            f"{', '.join(LANGUAGES)}")
    return language


# --- key phrases ------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _yake(language: str, top: int):
    import yake

    # dedupLim 0.7: phrases that mostly repeat a better one are dropped by YAKE itself.
    return yake.KeywordExtractor(lan=language, n=MAX_PHRASE_WORDS, top=top * 3, dedupLim=0.7)


def key_phrases(text: str, language: str | None = "en", top: int = MAX_PHRASES) -> list[KeyPhrase]:
    """At most ``top`` key phrases of ``text``, the most relevant first; each occurs in the
    text (as a whole-word match, the case and the line breaks as written there). Phrases that
    share a word with a better one (its first or last word, or one of four letters or more: not
    a stop word), and phrases with no word of three letters or more (the ``Mr`` or ``1887`` of
    a line), are left out."""
    language = _language(language)
    if not text.strip() or top <= 0:
        return []
    with _YAKE_LOCK:  # one text at a time per extractor: YAKE does not say it is thread-safe
        found = _yake(language, top).extract_keywords(text)
    out: list[KeyPhrase] = []
    for phrase, score in found:
        words = phrase.strip(_PUNCTUATION).split()  # YAKE may keep a sentence's full stop
        if not words:
            continue
        if not any(len(w) >= 3 and w.isalpha() for w in words):
            continue
        # Its words that matter: YAKE's phrases neither start nor end with a stop word.
        content = {w.lower() for w in (words[0], words[-1], *(w for w in words if len(w) >= 4))}
        if any(content & {w.lower() for w in k.text.split()} for k in out):
            continue  # says again part of a better phrase ("garden at Calcutta", "Calcutta")
        match = re.search(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)",
                          text, re.IGNORECASE)
        if match is None:  # YAKE changed the phrase beyond recognition: not worth showing
            continue
        out.append(KeyPhrase(match.group(), match.start(), match.end(), float(score)))
        if len(out) == top:
            break
    return out


_YAKE_LOCK = threading.Lock()
_PUNCTUATION = ".,;:!?\"'()[]{}«»“”‘’-–—"


# --- entities ---------------------------------------------------------------------------------

def entities(text: str, language: str | None = "en") -> list[Entity]:
    """The dates, times, amounts of money, phone numbers, e-mail addresses and URLs in
    ``text``, in the order they occur, none overlapping another."""
    language = _language(language)
    found = [*find_emails(text), *find_urls(text), *find_phones(text, language),
             *find_money(text), *find_dates(text, language)]
    found.sort(key=lambda e: (PRIORITY.index(e.kind), e.start))
    kept: list[Entity] = []
    for entity in found:
        if all(entity.end <= k.start or entity.start >= k.end for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: e.start)


def find_emails(text: str) -> list[Entity]:
    """E-mail addresses (:data:`EMAIL`), lower-cased as their value."""
    return [Entity("email", m.group(), m.start(), m.end(), m.group().lower())
            for m in EMAIL.finditer(text)]


def find_urls(text: str) -> list[Entity]:
    """URLs that start with ``http://``, ``https://`` or ``www.`` (:data:`URL`), the sentence's
    punctuation after them left out; the value has its scheme (``http://`` for ``www.``) and a
    lower-case host."""
    out = []
    for m in URL.finditer(text):
        raw = m.group()
        while raw and raw[-1] in _URL_TRAILING and not (raw[-1] == ")" and raw.count("(") >=
                                                          raw.count(")")):
            raw = raw[:-1]
        full = raw if "://" in raw else "http://" + raw
        try:
            parts = urlsplit(full)
        except ValueError:  # a bracket in the host, a port that is not a number
            continue
        host = parts.hostname or ""
        if "." not in host.strip("."):
            continue
        value = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path,
                            parts.query, parts.fragment))
        out.append(Entity("url", raw, m.start(), m.start() + len(raw), value))
    return out


def find_phones(text: str, language: str | None = "en") -> list[Entity]:
    """Valid phone numbers (``phonenumbers``' matcher), in E.164; one without its country code
    is taken to be of the language's country (:data:`REGIONS`)."""
    import phonenumbers

    region = REGIONS[_language(language)]
    return [Entity("phone", m.raw_string, m.start, m.end,
                   phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164))
            for m in phonenumbers.PhoneNumberMatcher(text, region)]


def find_money(text: str) -> list[Entity]:
    """Amounts of money: pre-decimal British money (:data:`OLD_MONEY`, counted in pounds), then
    amounts with a currency sign, code or name (:data:`MONEY`), read by ``price-parser``."""
    from price_parser import Price

    out: list[Entity] = []
    for m in OLD_MONEY.finditer(text):
        pounds = int(m.group("l") or 0)
        shillings = int(m.group("s") or m.group("s2") or m.group("s3") or 0)
        pence = _pence(m.group("d") or m.group("d2") or m.group("d3"))
        if shillings >= 20 or pence >= 12:
            continue  # not pounds, shillings and pence after all
        amount = Decimal(pounds) + Decimal(shillings) / 20 + pence / 240
        raw = m.group().rstrip()
        out.append(Entity("money", raw, m.start(), m.start() + len(raw),
                          {"amount": _number(amount), "currency": "GBP"}))
    for m in MONEY.finditer(text):
        if any(m.start() < e.end and m.end() > e.start for e in out):
            continue
        raw = m.group()
        code = _currency_code(raw)
        price = Price.fromstring(raw, decimal_separator=_decimal_separator(raw))
        if price.amount is None or code is None:
            continue
        out.append(Entity("money", raw, m.start(), m.end(),
                          {"amount": _number(price.amount), "currency": code}))
    return out


def _pence(text: str | None) -> Decimal:
    if not text or text == "-":  # £1/5/-: no pence
        return Decimal(0)
    fraction = {"½": Decimal("0.5"), "¼": Decimal("0.25"), "¾": Decimal("0.75")}
    return Decimal(text.rstrip("½¼¾")) + fraction.get(text[-1], Decimal(0))


def _number(amount: Decimal) -> float | int:
    amount = round(amount, 4).normalize()
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _currency_code(raw: str) -> str | None:
    lowered = raw.lower()
    for key in sorted(CURRENCY_CODES, key=len, reverse=True):
        if key in lowered and (not key.isalpha() or re.search(rf"\b{key}\b", lowered)):
            return CURRENCY_CODES[key]
    return None


def _decimal_separator(raw: str) -> str | None:
    """price-parser guesses the decimal separator well, except for "1,200" (a thousand and
    two hundred, not 1.2): a comma followed by exactly three digits groups thousands."""
    return "." if re.search(r"\d,\d{3}(?!\d)", raw) and "." not in raw else None


# --- dates and times --------------------------------------------------------------------------

_DATE_SETTINGS = {"DATE_ORDER": DATE_ORDER, "PREFER_DAY_OF_MONTH": "first",
                  "RETURN_TIME_AS_PERIOD": True}
_DATE_LOCK = threading.Lock()


@lru_cache(maxsize=None)
def _date_parser(language: str):
    from dateparser.date import DateDataParser

    return DateDataParser(languages=[language], settings=_DATE_SETTINGS)


@lru_cache(maxsize=None)
def _calendar_words(language: str) -> tuple[frozenset[str], frozenset[str]]:
    """The month names and the weekday names of a language (full and abbreviated, three
    letters or more), lower-case, from dateparser's own language data."""
    from dateparser.languages.loader import default_loader

    info = default_loader.get_locale(language).info
    months = ("january", "february", "march", "april", "may", "june", "july", "august",
              "september", "october", "november", "december")
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

    def names(keys):
        return frozenset(n.lower().rstrip(".") for k in keys for n in info.get(k, ())
                         if len(n.rstrip(".")) >= 3)
    return names(months), names(days)


def find_dates(text: str, language: str | None = "en") -> list[Entity]:
    """Dates and times (see the module's docstring for what is kept). Values: ``1887-03-03``,
    ``1887-03`` (a month), ``2021-04-03T10:30`` (with its time), ``--03-03`` (no year written),
    ``10:30`` (a time alone).

    Candidates are what dateparser's search finds, and also every month's name, numeric date
    and clock time in the text: its search gives up on a whole sentence for one misread word
    ("the 3rd of May 188I"), where the date is still there to read."""
    from dateparser.search import search_dates

    language = _language(language)
    if not any(c.isdigit() for c in text):
        return []  # every date kept has a digit: spare dateparser the search
    with _DATE_LOCK:
        found = search_dates(text, languages=[language], settings=_DATE_SETTINGS) or []
    candidates: list[tuple[int, int]] = []
    cursor = 0
    for piece, _ in found:
        start = text.find(piece, cursor)
        if start >= 0:
            candidates.append((start, start + len(piece)))
            cursor = start + len(piece)
    months, _ = _calendar_words(language)
    candidates += [(m.start(), m.end()) for m in _TOKEN.finditer(text)
                   if m.group().lower() in months]
    candidates += [(m.start(), m.end()) for m in _NUMERIC_DATE.finditer(text)]
    candidates += [(m.start(), m.end()) for m in _CLOCK.finditer(text)]
    out: list[Entity] = []
    for start, end in sorted(set(candidates), key=lambda c: (c[0], -c[1])):
        if any(start < e.end and end > e.start for e in out):
            continue  # part of a date already found
        entity = _date_entity(text, start, end, language)
        if entity is not None and not any(entity.start < e.end and entity.end > e.start
                                          for e in out):
            out.append(entity)
    return sorted(out, key=lambda e: e.start)


#: What dateparser's search leaves out around a month's name (it splits "le 1er mai 1887 à
#: 14h30" into "mai", "1887" and "14h30"): the day (and weekday) before it, the year after it,
#: and a clock time after a date.
_DAY_BEFORE = re.compile(r"(?:(?P<weekday>[^\W\d_]{3,})[,.]?\s+)?(?:the\s+)?"
                         r"(?P<day>\d{1,2}(?:st|nd|rd|th|er|re|e)?)\s+(?:(?:of|de|du)\s+)?$",
                         re.IGNORECASE)
_YEAR_AFTER = re.compile(r",?\s+\d{4}(?!\w)")
#: The day (and year) after a month's name, as English letters write it: "Aug 14/79",
#: "Sept. 4/81", "May 29 1908", "Dec 29th, 1881".
_DAY_AFTER = re.compile(r"\.?\s*\d{1,2}(?:st|nd|rd|th)?(?![\d:h.,]\d)"
                        r"(?:\s*/\s*(?:\d{4}|\d{2})(?!\d)|,?\s+\d{4}(?!\w))?", re.IGNORECASE)
_TIME_AFTER = re.compile(r",?\s+(?:(?:at|à|a|vers|about|around)\s+)?\d{1,2}(?:[:h]\d{2}|\s?[ap]\.?m"
                         r"(?:\.|\b))(?![\w:])", re.IGNORECASE)


def _date_entity(text: str, start: int, end: int, language: str) -> Entity | None:
    months, days = _calendar_words(language)
    tokens = list(_TOKEN.finditer(text, start, end))
    # dateparser keeps the words around a date ("on", "le", "and"): start at its first digit,
    # month or weekday.
    first = next((t for t in tokens if t.group().isdigit() or t.group().lower() in months
                  or t.group().lower() in days), None)
    if first is None:
        return None
    start = first.start()
    end = _trim_end(text, start, end, months, days)
    start, end = _widen(text, start, end, months, days)
    piece = text[start:end]
    # English writes months with a capital: a lower-case "may" or "march" is a verb.
    has_month = any(t.lower() in months and (language not in CAPITALISED_MONTHS or t[0].isupper())
                    for t in _TOKEN.findall(piece))
    numeric = _NUMERIC_DATE.search(piece) is not None
    clock = _CLOCK.search(piece) is not None
    if not any(c.isdigit() for c in piece) or not (has_month or numeric or clock):
        return None  # "may", "now", "second", "1887", "12,50", "10s": not dates
    data = _parse_date(piece, language)
    if data is None:
        return None
    when: datetime = data.date_obj
    if not (has_month or numeric):
        return Entity("time", piece, start, end, _clock(when))
    if "day" not in data.parts:
        if not re.search(r"\d{4}", piece):
            return None  # "48 March": a number dateparser takes for the year 2048, not a date
        day = f"{when.year:04d}-{when.month:02d}"
    elif "year" in data.parts:
        day = when.date().isoformat()
    else:
        day = f"--{when.month:02d}-{when.day:02d}"  # ISO 8601's date without a year
    if data.period == "time" and clock:
        return Entity("date", piece, start, end, f"{day}T{_clock(when)}")
    return Entity("date", piece, start, end, day)


#: Words that may end a date or time ("10:30 in the morning").
_TIME_WORDS = frozenset({"am", "pm", "morning", "afternoon", "evening", "night", "noon",
                         "midnight", "matin", "soir", "midi", "minuit", "heures", "heure"})
_CONNECTORS = frozenset({"at", "à", "a", "vers", "about", "around", "by", "of", "de", "and", "et"})


def _trim_end(text: str, start: int, end: int, months: frozenset[str],
              days: frozenset[str]) -> int:
    """The end of a date without the words dateparser took along after it ("March 1887 we"),
    nor a bare number after "at" ("3 March at 10", which it reads as the year 2010)."""
    tokens = list(_TOKEN.finditer(text, start, end))
    while tokens:
        last = tokens[-1].group().lower()
        if last.isalpha() and last not in months and last not in days and last not in _TIME_WORDS:
            tokens.pop()
        elif (last.isdigit() and len(last) <= 2 and len(tokens) > 1 and
              tokens[-2].group().lower() in _CONNECTORS and
              not _CLOCK.match(text, tokens[-1].start(), end)):
            tokens.pop()
        else:
            break
    return tokens[-1].end() if tokens else start


def _widen(text: str, start: int, end: int, months: frozenset[str],
           days: frozenset[str]) -> tuple[int, int]:
    """The span grown by the day before a month's name (or the day after it, with its year),
    the year after it and a time after the date, where dateparser's search left them out."""
    tokens = _TOKEN.findall(text, start, end)
    before = None
    if tokens and tokens[0].lower() in months:
        before = _DAY_BEFORE.search(text, max(0, start - 40), start)
        if before is not None:
            weekday = before.group("weekday")
            start = before.start() if weekday and weekday.lower() in days else before.start("day")
    if tokens and tokens[-1].lower() in months:
        after = _YEAR_AFTER.match(text, end) if before is not None or len(tokens) > 1 \
            else _DAY_AFTER.match(text, end)
        if after is not None:
            end = after.end()
    if not _CLOCK.search(text, start, end) and (after := _TIME_AFTER.match(text, end)):
        end = after.end()
    return start, end


def _parse_date(piece: str, language: str):
    """dateparser's reading of one date (its ``date_obj``, ``period`` and ``parts``), or
    None."""
    with _DATE_LOCK:
        data = _date_parser(language).get_date_data(piece)
    return data if data.date_obj is not None else None


def _clock(when: datetime) -> str:
    return when.strftime("%H:%M:%S" if when.second else "%H:%M")


def warm_up(languages: tuple[str, ...] = LANGUAGES) -> None:
    """Load every language's data now (dateparser's, YAKE's), not on the first text."""
    for language in languages:
        understand("Le 3 mars 1887, 12,50 €, call 01 42 68 53 00 at 10:30 about the letter.",
                   language)
