"""Name normalisation for screening: transliteration, tokens, token classes, phonetic keys.

What is covered: Unicode NFKD with combining marks dropped (``José Peña`` -> ``jose pena``), a few
Latin letters NFKD does not decompose (``ß æ ø œ ł đ þ ı``), Russian/Ukrainian Cyrillic by a
GOST-like table (``Сергей`` -> ``sergei``), case, punctuation (dots and apostrophes vanish so
``S.A.`` is ``sa`` and ``O'Brien`` is ``obrien``; every other non-alphanumeric splits tokens),
honorific titles (dropped), legal-form suffixes (canonical form, low weight), name particles and
generic business words (low weight, never enough on their own).

What is NOT covered: Arabic, Persian, Hebrew, Chinese, Japanese, Korean, Greek and other scripts
are not transliterated (their letters are dropped); lists screened here must carry Latin-script
aliases for those names, as OFAC, the EU and the UN lists do. Name-variant dictionaries
(``Bill`` = ``William``) are not used; the phonetic key only catches transliteration-like
spellings (``Qadhafi`` / ``Gaddafi``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

_EXTRA_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe",
                             "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th",
                             "Þ": "TH", "ı": "i", "ð": "d", "Ð": "D"})
_CYRILLIC = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o",
                      "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e",
                      "yu", "ya", "i", "yi", "ye", "g"], strict=True))
_CYRILLIC_TABLE = str.maketrans({**_CYRILLIC, **{k.upper(): v for k, v in _CYRILLIC.items()}})
_DROP = re.compile(r"[.'`’ʼ]")
_SPLIT = re.compile(r"[^a-z0-9]+")

TITLES = frozenset("mr mrs ms miss mister dr doctor prof professor sir madam mme mlle dame lord "
                   "hon honorable rev reverend gen general col colonel capt captain lt maj major "
                   "sgt admiral adm".split())
# legal forms, mapped to one canonical spelling each
LEGAL_FORMS = {"limited": "ltd", "ltd": "ltd", "corporation": "corp", "corp": "corp",
               "incorporated": "inc", "inc": "inc", "company": "co", "co": "co", "llc": "llc",
               "plc": "plc", "gmbh": "gmbh", "ag": "ag", "sa": "sa", "sarl": "sarl", "srl": "srl",
               "spa": "spa", "bv": "bv", "nv": "nv", "jsc": "jsc", "ojsc": "ojsc", "pjsc": "pjsc",
               "cjsc": "cjsc", "ooo": "ooo", "oao": "oao", "zao": "zao", "pao": "pao", "llp": "llp",
               "lp": "lp", "pte": "pte", "pty": "pty", "fze": "fze", "fzco": "fzco", "fzc": "fzc",
               "kg": "kg", "ab": "ab", "as": "as", "oy": "oy", "kft": "kft", "sas": "sas",
               "sdn": "sdn", "bhd": "bhd", "tbk": "tbk"}
PARTICLES = frozenset("al el ad ar as at an bin ibn bint ben abu umm de del della der den van von "
                      "da di du dos la le the of and y e mc".split())
GENERIC = frozenset("international intl trading trade group holding holdings industries industry "
                    "services service global enterprises enterprise general import export "
                    "company investment investments management shipping logistics bank "
                    "organization organisation foundation partners".split())


class TokenClass(Enum):
    """How much a token says about identity (its weight in an alignment)."""

    NAME = "name"
    NUMBER = "number"
    GENERIC = "generic"
    PARTICLE = "particle"
    LEGAL = "legal"

    @property
    def weight(self) -> float:
        """Base weight of a token of this class in an alignment."""
        return _CLASS_WEIGHTS[self]

    @property
    def distinctive(self) -> bool:
        """A match on this class alone can identify a party (particles, legal forms can't)."""
        return self in (TokenClass.NAME, TokenClass.NUMBER)


_CLASS_WEIGHTS = {TokenClass.NAME: 1.0, TokenClass.NUMBER: 1.0, TokenClass.GENERIC: 0.5,
                  TokenClass.PARTICLE: 0.5, TokenClass.LEGAL: 0.3}


@dataclass(frozen=True)
class Token:
    """One normalised name token."""

    text: str
    cls: TokenClass
    family: bool = False  # a family name of a listed person (weighs more)

    @property
    def weight(self) -> float:
        """Base weight of this token in an alignment."""
        return self.cls.weight


def fold(text: str) -> str:
    """Transliterate ``text`` to lower-case ASCII (see the module docstring for what is covered)."""
    text = unicodedata.normalize("NFKC", text).translate(_CYRILLIC_TABLE).translate(_EXTRA_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return ascii_only.encode("ascii", "ignore").decode("ascii").lower()


SPELLED_OUT = 4  # this many single letters in a row are one spelled-out word, not initials


def words(text: str) -> list[str]:
    """Folded words of ``text``: dots and apostrophes removed, other punctuation splits, and a
    run of :data:`SPELLED_OUT` or more single letters (``V o l k o v``) joined into one word."""
    out: list[str] = []
    run: list[str] = []
    for w in [*_SPLIT.split(_DROP.sub("", fold(text))), ""]:
        if len(w) == 1:
            run.append(w)
            continue
        out.extend(["".join(run)] if len(run) >= SPELLED_OUT else run)
        run = []
        if w:
            out.append(w)
    return out


def classify(word: str) -> tuple[str, TokenClass]:
    """Canonical form and class of one folded word."""
    if word.isdigit():
        return word, TokenClass.NUMBER
    if word in LEGAL_FORMS:
        return LEGAL_FORMS[word], TokenClass.LEGAL
    if word in PARTICLES:
        return word, TokenClass.PARTICLE
    if word in GENERIC:
        return word, TokenClass.GENERIC
    return word, TokenClass.NAME


@lru_cache(maxsize=65536)
def tokenize(name: str, person: bool = False) -> tuple[Token, ...]:
    """Tokens of ``name`` without titles. For a listed ``person`` the family name is marked: the
    words before a comma (``LAST, First``), otherwise the last word."""
    family_part, comma, _rest = name.partition(",")
    family_words = set(words(family_part)) if comma else set()
    out = [classify(w) for w in words(name) if w not in TITLES]
    if person and not comma:
        names = [t for t, c in out if c is TokenClass.NAME]
        family_words = {names[-1]} if len(names) > 1 else set()
    return tuple(Token(t, c, family=person and c is TokenClass.NAME and t in family_words)
                 for t, c in out)


_PHONETIC_DIGRAPHS = (("sch", "s"), ("ph", "f"), ("kh", "k"), ("gh", "g"), ("dh", "d"),
                      ("th", "t"), ("sh", "s"), ("ch", "k"), ("ck", "k"), ("zh", "s"), ("ts", "s"),
                      ("x", "ks"))
_PHONETIC = str.maketrans("bpfvwcgjkqxszdtlrmn", "PPFFFKKKKKKSSTTLRNN", "aeiouyh")


@lru_cache(maxsize=262144)
def phonetic(word: str) -> str:
    """A coarse consonant skeleton of ``word`` for transliteration variants: similar sounds
    share a letter, vowels and ``h`` vanish (a leading vowel is kept as ``A``), repeats collapse."""
    if not word or word.isdigit():
        return word
    lead = "A" if word[0] in "aeiouy" else ""
    for a, b in _PHONETIC_DIGRAPHS:
        word = word.replace(a, b)
    skeleton = word.translate(_PHONETIC)
    out: list[str] = []
    for ch in skeleton:
        if not out or out[-1] != ch:
            out.append(ch)
    return lead + "".join(out)
