"""Explainable fuzzy name scoring, modelled on OpenSanctions nomenklatura's ``logic-v2``.

A query name and a listed name are split into tokens (:mod:`.names`); tokens are aligned pairwise
regardless of order (reordered names align), each pair scored:

* equal text: 1.0;
* a strict Levenshtein budget of ``len // 4`` edits (the longer token): ``1 - edits / len``,
  nothing beyond the budget (``Bush`` never aligns with ``Habbash``);
* transliteration variants (same phonetic key, within ``len // 2`` edits): 0.85;
* an initial against a name it starts (``J`` / ``John``): 0.7.

The name score is the weighted mean over aligned pairs and unmatched tokens: a pair weighs its
token class (names 1.0, generic words and particles 0.5, legal forms 0.3) times 1.3 when the listed
token is a family name; a query token left unmatched weighs 0.8 (it argues against the match), a
listed token left unmatched 0.1 (a missing middle name barely matters) while the query covers at
least half of the listed name's distinctive tokens, 0.5 otherwise (one shared word out of a long
name, ``Exchange`` / ``Golden Crescent Exchange``, is not a match). A match made only of
non-distinctive tokens (``CORP``, ``AL``, ``TRADING``) scores 0. Numbers in both names that differ
multiply the score by 0.7. A token left over on one side may align with two or three adjacent
left-over tokens of the other run together (``Abubakr`` / ``Abu Bakr``). Context then subtracts
points: countries that disagree -20, birth years that disagree -15, full birth dates that
disagree -25 (a malformed date counts for nothing). Those are the counterparty's own claims, so
they can lower a strong name match (above 90) only down to review (70), never to a pass.

A weak alias (a name the list itself marks weak) matches only when the query has exactly its
tokens, in any order, and then scores 80: a review, never an automatic decline.

Scores are 0-100 (not money: floats are fine here). Thresholds: above 90 decline and file a SAR,
70 to 90 manual review, below 70 pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from keeper.compliance.screening.names import Token, TokenClass, phonetic, tokenize

_DATE = re.compile(r"\d{4}(-\d{2}-\d{2})?")
DECLINE_ABOVE = 90.0
REVIEW_FROM = 70.0
WEAK_ALIAS_SCORE = 80.0  # an exact weak alias: review, never an automatic decline
JOIN_RUNS = (2, 3)
EXTRA_QUERY_WEIGHT = 0.8
EXTRA_LISTED_WEIGHT = 0.1
UNCOVERED_LISTED_WEIGHT = 0.5
FAMILY_WEIGHT = 1.3
INITIAL_SCORE = 0.7
PHONETIC_SCORE = 0.85
NUMBER_MISMATCH = 0.3
COUNTRY_MISMATCH = 20.0
BIRTH_YEAR_MISMATCH = 15.0
BIRTH_DATE_MISMATCH = 25.0


class Decision(Enum):
    """What the bank does with a screening score (spec: >90 decline + SAR, 70-90 review)."""

    PASS = "pass"  # noqa: S105 (a decision, not a password)
    REVIEW = "review"
    DECLINE_SAR = "decline_sar"

    @classmethod
    def for_score(cls, score: float) -> Decision:
        """The decision for a 0-100 ``score``."""
        if score > DECLINE_ABOVE:
            return cls.DECLINE_SAR
        if score >= REVIEW_FROM:
            return cls.REVIEW
        return cls.PASS


@dataclass(frozen=True)
class Aligned:
    """Two tokens aligned with each other, and why."""

    query: str
    listed: str
    how: str  # exact | fuzzy | phonetic | initial, or joined-<that> for a run of tokens
    edits: int
    score: float
    weight: float


@dataclass(frozen=True)
class NameScore:
    """A 0-100 name score with the features that made it."""

    score: float
    listed_name: str
    aligned: tuple[Aligned, ...] = ()
    unmatched_query: tuple[str, ...] = ()
    unmatched_listed: tuple[str, ...] = ()
    penalties: tuple[tuple[str, float], ...] = ()

    def explain(self) -> str:
        """One line a compliance analyst can read."""
        parts = [f"{a.query}~{a.listed}:{a.how}({a.edits} edits)={a.score:.2f}" for a in self.aligned]
        parts += [f"unmatched query {t}" for t in self.unmatched_query]
        parts += [f"unmatched listed {t}" for t in self.unmatched_listed]
        parts += [f"{why} {-pts:+g}" for why, pts in self.penalties]
        return f"{self.score:.1f} vs {self.listed_name!r}: " + "; ".join(parts)


@lru_cache(maxsize=1 << 16)
def token_similarity(q: str, r: str) -> tuple[float, str, int]:
    """Score, kind and edit count of aligning query token ``q`` with listed token ``r``."""
    if q == r:
        return 1.0, "exact", 0
    if q.isdigit() or r.isdigit():
        return 0.0, "", 0
    short, long_ = (q, r) if len(q) <= len(r) else (r, q)
    if len(short) == 1:
        return (INITIAL_SCORE, "initial", 0) if len(long_) > 1 and long_[0] == short else (0.0, "", 0)
    size = len(long_)
    budget, loose = size // 4, max(1, size // 2)
    edits = Levenshtein.distance(q, r, score_cutoff=loose)
    best = (0.0, "", edits)
    if budget and edits <= budget:
        best = (1.0 - edits / size, "fuzzy", edits)
    if edits <= loose and len(short) >= 3 and phonetic(q) == phonetic(r) and best[0] < PHONETIC_SCORE:
        best = (PHONETIC_SCORE, "phonetic", edits)
    return best


def _pair_weight(q: Token, r: Token) -> float:
    return max(q.weight, r.weight) * (FAMILY_WEIGHT if r.family else 1.0)


def align(query: tuple[Token, ...], listed: tuple[Token, ...]) -> tuple[float, NameScore]:
    """Greedy best-first token alignment; returns the 0-1 score and its explanation."""
    pairs = []
    for i, q in enumerate(query):
        for j, r in enumerate(listed):
            sim, how, edits = token_similarity(q.text, r.text)
            if sim > 0:
                pairs.append((sim, _pair_weight(q, r), i, j, how, edits))
    pairs.sort(key=lambda p: (-p[0], -p[1]))
    used_q: set[int] = set()
    used_r: set[int] = set()
    aligned: list[Aligned] = []
    distinctive = False
    for sim, weight, i, j, how, edits in pairs:
        if i in used_q or j in used_r:
            continue
        used_q.add(i)
        used_r.add(j)
        aligned.append(Aligned(query[i].text, listed[j].text, how, edits, sim, weight))
        distinctive |= query[i].cls.distinctive and listed[j].cls.distinctive and how != "initial"
    for i, j, n, sim, how, edits in _joined(query, listed, used_q, used_r):
        aligned.append(Aligned(query[i].text, "".join(t.text for t in listed[j:j + n]), how, edits,
                               sim, max(_pair_weight(query[i], r) for r in listed[j:j + n])))
        distinctive |= query[i].cls.distinctive and any(t.cls.distinctive for t in listed[j:j + n])
    for j, i, n, sim, how, edits in _joined(listed, query, used_r, used_q):
        aligned.append(Aligned("".join(t.text for t in query[i:i + n]), listed[j].text, how, edits,
                               sim, max(_pair_weight(q, listed[j]) for q in query[i:i + n])))
        distinctive |= listed[j].cls.distinctive and any(t.cls.distinctive for t in query[i:i + n])
    rest_q = [t for i, t in enumerate(query) if i not in used_q]
    rest_r = [t for j, t in enumerate(listed) if j not in used_r]
    listed_names = sum(1 for t in listed if t.cls.distinctive)
    covered = sum(1 for j, t in enumerate(listed) if j in used_r and t.cls.distinctive)
    extra_listed = EXTRA_LISTED_WEIGHT if 2 * covered >= listed_names else UNCOVERED_LISTED_WEIGHT
    total = sum(a.weight for a in aligned)
    total += sum(EXTRA_QUERY_WEIGHT * t.weight for t in rest_q)
    total += sum(extra_listed * t.weight * (FAMILY_WEIGHT if t.family else 1.0) for t in rest_r)
    score = sum(a.score * a.weight for a in aligned) / total if total and distinctive else 0.0
    return score, NameScore(0.0, "", tuple(aligned), tuple(t.text for t in rest_q),
                            tuple(t.text for t in rest_r))


def _joined(one: tuple[Token, ...], other: tuple[Token, ...], used_one: set[int],
            used_other: set[int]) -> list[tuple[int, int, int, float, str, int]]:
    """Left-over tokens of ``one`` that align with two or three adjacent left-over tokens of
    ``other`` run together (``Abubakr`` / ``Abu Bakr``, ``Vanderberg`` / ``Van der Berg``); marks
    what they use. Returns (index in one, first index in other, run length, score, kind, edits)."""
    out = []
    for i, tok in enumerate(one):
        if i in used_one:
            continue
        best: tuple[float, int, int, str, int] | None = None
        for n in JOIN_RUNS:
            for j in range(len(other) - n + 1):
                if any(k in used_other for k in range(j, j + n)):
                    continue
                sim, how, edits = token_similarity(tok.text, "".join(t.text for t in other[j:j + n]))
                if sim > 0 and how != "initial" and (best is None or sim > best[0]):
                    best = (sim, j, n, how, edits)
        if best is not None:
            sim, j, n, how, edits = best
            used_one.add(i)
            used_other.update(range(j, j + n))
            out.append((i, j, n, sim, f"joined-{how}", edits))
    return out


def weak_alias_key(tokens: tuple[Token, ...]) -> tuple[str, ...] | None:
    """What must be equal for a weak alias to match: the tokens without legal forms, in any
    order (None when nothing distinctive is left)."""
    if not any(t.cls.distinctive for t in tokens):
        return None
    return tuple(sorted(t.text for t in tokens if t.cls is not TokenClass.LEGAL))


def weak_alias_score(q_tokens: tuple[Token, ...], listed: str, penalties: list[tuple[str, float]]
                     ) -> NameScore:
    """The score of a query equal to a weak alias (see :func:`weak_alias_key`): 80, less context
    penalties. Weak aliases (OFAC "weak" AKAs) are never matched fuzzily."""
    text = " ".join(t.text for t in q_tokens)
    final = max(0.0, WEAK_ALIAS_SCORE - sum(p for _, p in penalties))
    return NameScore(round(final, 2), listed, (Aligned(text, listed, "weak-alias", 0, 1.0, 1.0),),
                     penalties=tuple(penalties))


def _numbers(tokens: Iterable[Token]) -> set[str]:
    return {t.text for t in tokens if t.cls is TokenClass.NUMBER}


def context_penalties(query_country: str | None, query_birth_date: str | None,
                      countries: Iterable[str], birth_dates: Iterable[str]) -> list[tuple[str, float]]:
    """Points to subtract for a country or birth date that contradicts the listed entry.

    Countries are compared only like with like (two-letter codes with codes, names with names):
    a vocabulary difference must never lower a true hit. Dates are ``YYYY`` or ``YYYY-MM-DD``."""
    out: list[tuple[str, float]] = []
    if query_country:
        qc = query_country.strip().upper()
        same_kind = [c.strip().upper() for c in countries if (len(c.strip()) == 2) == (len(qc) == 2)]
        if same_kind and qc not in same_kind:
            out.append((f"country {qc} not in {sorted(set(same_kind))}", COUNTRY_MISMATCH))
    dates = [d.strip() for d in birth_dates if _DATE.fullmatch(d.strip())]
    qd = (query_birth_date or "").strip()
    if _DATE.fullmatch(qd) and dates:  # a malformed date says nothing
        if qd[:4] not in {d[:4] for d in dates}:
            out.append((f"birth year {qd[:4]} not listed", BIRTH_YEAR_MISMATCH))
        full = [d for d in dates if len(d) == 10]
        if len(qd) == 10 and full and qd not in full:
            out.append((f"birth date {qd} not listed", BIRTH_DATE_MISMATCH))
    return out


def score_name(query: str, listed: str, *, person: bool = False, query_country: str | None = None,
               query_birth_date: str | None = None, countries: Iterable[str] = (),
               birth_dates: Iterable[str] = ()) -> NameScore:
    """Score ``query`` against one ``listed`` name (``person``: the listed party is a person, so
    its family name weighs more), with context penalties from the listed entry's data."""
    q_tokens = tokenize(query)
    l_tokens = tokenize(listed, person)
    return score_tokens(q_tokens, l_tokens, listed,
                        context_penalties(query_country, query_birth_date, countries, birth_dates))


def score_tokens(q_tokens: tuple[Token, ...], l_tokens: tuple[Token, ...], listed: str,
                 penalties: list[tuple[str, float]]) -> NameScore:
    """:func:`score_name` on already tokenised names."""
    score, detail = align(q_tokens, l_tokens)
    aligned = detail.aligned
    notes = list(penalties)
    q_num, l_num = _numbers(q_tokens), _numbers(l_tokens)
    if q_num and l_num and q_num != l_num:
        notes.append((f"numbers {sorted(q_num)} vs {sorted(l_num)}", round(score * 100 * NUMBER_MISMATCH, 2)))
    name_only = score * 100 - sum(p for why, p in notes if why.startswith("numbers"))
    final = max(0.0, score * 100 - sum(p for _, p in notes)) if score else 0.0
    if name_only > DECLINE_ABOVE and final < REVIEW_FROM:
        notes.append((f"floor: a name match of {name_only:.1f} stays at review", final - REVIEW_FROM))
        final = REVIEW_FROM
    return NameScore(round(final, 2), listed, aligned, detail.unmatched_query, detail.unmatched_listed,
                     tuple(notes))
