"""The hot path: screen a transaction (address + counterparty name) against list versions.

Addresses: one dict lookup on the normalised address (:mod:`.addresses`).

Names, with candidate blocking so that only a few names are scored in full:

1. an inverted index maps every listed token, every pair of adjacent listed tokens run together,
   every phonetic key and every listed initial to the names holding it; the query's tokens (and
   adjacent pairs run together) look themselves up exactly, by phonetic key, and within the
   matcher's own ``len // 4`` edit budget in a length-bucketed vocabulary (rapidfuzz
   ``process.extract`` with a Levenshtein ``score_cutoff``); each name run together is indexed
   for the matcher's compact reading too;
2. a name reached only by tokens that cannot reach the review threshold is dropped: an upper
   bound of its score assumes every token that found it aligns perfectly with the heaviest
   weight, and every query token that did not find it stays unmatched. Only names whose bound is
   >= 70 are scored by :mod:`.matcher`. The bound never under-estimates, so recall is unchanged
   (``tests/keeper/compliance/test_screener.py`` compares with scoring every name).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.matcher import (
    EXTRA_QUERY_WEIGHT,
    FAMILY_WEIGHT,
    REVIEW_FROM,
    Decision,
    NameScore,
    context_penalties,
    score_tokens,
)
from keeper.compliance.screening.names import Token, compact, phonetic, tokenize
from keeper.compliance.screening.records import ListEntry
from keeper.compliance.screening.store import ListVersion

MIN_COMPACT = 6
MAX_NAME_LENGTH = 300  # characters of a name to screen
MAX_NAME_TOKENS = 24


@dataclass(frozen=True)
class Match:
    """One list entry that matched, against which version, how well and why."""

    list_name: str
    list_version: int
    entry: ListEntry
    score: float
    decision: Decision
    address: str | None = None  # the listed address that matched exactly
    name: NameScore | None = None  # the name score and its features


@dataclass(frozen=True)
class ScreeningResult:
    """The outcome of screening one transaction or client."""

    decision: Decision
    matches: tuple[Match, ...]
    list_versions: tuple[str, ...]  # NAME@vN of every list screened against


class _Vocabulary:
    """Strings bucketed by length for bounded fuzzy lookups."""

    def __init__(self) -> None:
        self.by_length: dict[int, list[str]] = defaultdict(list)

    def add(self, word: str) -> None:
        self.by_length[len(word)].append(word)

    def near(self, word: str, budget_divisor: int = 4) -> list[str]:
        """Every stored string within ``max(len) // budget_divisor`` edits of ``word``."""
        out = []
        size = len(word)
        for length in range(max(1, size - size // 3 - 1), size + size // 3 + 2):
            bucket = self.by_length.get(length)
            budget = max(size, length) // budget_divisor
            if not bucket or budget == 0 or abs(length - size) > budget:
                continue
            out.extend(m[0] for m in process.extract(word, bucket, scorer=Levenshtein.distance,
                                                     score_cutoff=budget, limit=None))
        return out


class Screener:
    """An in-memory screening index over one or more list versions."""

    def __init__(self, versions: Sequence[ListVersion]) -> None:
        """Index every entry of ``versions`` (addresses and names)."""
        self.versions = tuple(versions)
        self._entries: list[tuple[ListVersion, ListEntry]] = []
        self._addresses: dict[str, list[int]] = {}
        self._names: list[tuple[int, str, tuple[Token, ...]]] = []
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._vocab = _Vocabulary()
        self._compact: dict[str, list[int]] = defaultdict(list)
        self._compact_vocab = _Vocabulary()
        for version in self.versions:
            for entry in version.entries:
                self._add(version, entry)
        self._postings = dict(self._postings)
        for key in self._postings:
            if not key.startswith(("#", "^")):
                self._vocab.add(key)
        for key in self._compact:
            self._compact_vocab.add(key)

    def _add(self, version: ListVersion, entry: ListEntry) -> None:
        index = len(self._entries)
        self._entries.append((version, entry))
        for listed in entry.addresses:
            self._addresses.setdefault(listed.address, []).append(index)
        for name in entry.names:
            tokens = tokenize(name, entry.person)
            if not any(t.cls.distinctive for t in tokens):
                continue
            name_id = len(self._names)
            self._names.append((index, name, tokens))
            keys = set()
            for i, tok in enumerate(tokens):
                keys.add(("^" if len(tok.text) == 1 else "") + tok.text)
                keys.add("#" + phonetic(tok.text))
                if i + 1 < len(tokens):
                    keys.add(tok.text + tokens[i + 1].text)
            for key in keys:
                self._postings[key].append(name_id)
            whole = compact(tokens)
            if len(whole) >= MIN_COMPACT:
                self._compact[whole].append(name_id)

    @property
    def labels(self) -> tuple[str, ...]:
        """``NAME@vN`` of every list version screened against."""
        return tuple(v.label for v in self.versions)

    def screen_address(self, address: str) -> list[Match]:
        """Exact lookup of ``address`` (``ValueError`` if it cannot be an address)."""
        key = normalise_address(address)
        return [Match(v.list_name, v.version, e, 100.0, Decision.DECLINE_SAR, address=key)
                for v, e in (self._entries[i] for i in self._addresses.get(key, ()))]

    def candidates(self, tokens: tuple[Token, ...]) -> set[int]:
        """Ids of the names whose score bound reaches the review threshold (see module doc)."""
        hits: dict[int, set[int]] = defaultdict(set)
        for i, tok in enumerate(tokens):
            if len(tok.text) < 2:
                continue
            for name_id in self._lookup(tok.text):
                hits[name_id].add(i)
            if i + 1 < len(tokens):
                for name_id in self._lookup(tok.text + tokens[i + 1].text):
                    hits[name_id].update((i, i + 1))
        distinctive = {i for i, t in enumerate(tokens) if t.cls.distinctive and len(t.text) > 1}
        free = {i for i, t in enumerate(tokens) if len(t.text) == 1}  # initials: assume aligned
        out = set()
        for name_id, found in hits.items():
            if not found & distinctive:
                continue
            aligned = FAMILY_WEIGHT * (len(found) + len(free))
            missing = sum(EXTRA_QUERY_WEIGHT * t.weight for i, t in enumerate(tokens)
                          if i not in found and i not in free)
            if 100 * aligned / (aligned + missing) >= REVIEW_FROM:
                out.add(name_id)
        whole = compact(tokens)
        if len(whole) >= MIN_COMPACT and distinctive:
            for key in self._compact_vocab.near(whole) + [whole]:
                out.update(self._compact.get(key, ()))
        return out

    def _lookup(self, word: str) -> Iterable[int]:
        postings = self._postings
        found = list(postings.get(word, ()))
        found += postings.get("#" + phonetic(word), ())
        found += postings.get("^" + word[0], ())
        for near in self._vocab.near(word):
            found += postings[near]
        return found

    def screen_name(self, name: str, country: str | None = None, birth_date: str | None = None,
                    limit: int = 10) -> list[Match]:
        """Listed parties whose names score at least the review threshold against ``name``,
        best first (at most ``limit``), one match per entry. A name too long to be a real one
        raises ``ValueError``: the caller must refuse the transfer, not let it pass unscreened."""
        if len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"name too long to screen ({len(name)} > {MAX_NAME_LENGTH} characters)")
        tokens = tokenize(name)
        if len(tokens) > MAX_NAME_TOKENS:
            raise ValueError(f"name too long to screen ({len(tokens)} > {MAX_NAME_TOKENS} words)")
        if not any(t.cls.distinctive for t in tokens):
            return []
        best: dict[int, NameScore] = {}
        for name_id in self.candidates(tokens):
            index, listed, l_tokens = self._names[name_id]
            entry = self._entries[index][1]
            scored = score_tokens(tokens, l_tokens, listed, context_penalties(
                country, birth_date, entry.countries, entry.birth_dates))
            if scored.score >= REVIEW_FROM and (index not in best or scored.score > best[index].score):
                best[index] = scored
        ranked = sorted(best.items(), key=lambda kv: -kv[1].score)[:limit]
        return [Match(self._entries[i][0].list_name, self._entries[i][0].version, self._entries[i][1],
                      s.score, Decision.for_score(s.score), name=s) for i, s in ranked]

    def screen_all_names(self, name: str) -> list[tuple[ListEntry, NameScore]]:
        """Score ``name`` against every listed name, no blocking (the reference for recall)."""
        tokens = tokenize(name)
        return [(self._entries[index][1], score_tokens(tokens, l_tokens, listed, []))
                for index, listed, l_tokens in self._names]

    def screen_transaction(self, address: str | None, counterparty: str | None,
                           country: str | None = None, birth_date: str | None = None) -> ScreeningResult:
        """Screen a transfer: the counterparty's address exactly, its name fuzzily. The decision
        is the worst of all matches (an address on a list declines and files a SAR). ``None``
        means "not given"; a malformed address or an over-long name raises ``ValueError``."""
        matches = self.screen_address(address) if address is not None else []
        if counterparty is not None:
            matches += self.screen_name(counterparty, country, birth_date)
        decision = max((m.decision for m in matches), key=_SEVERITY.index, default=Decision.PASS)
        return ScreeningResult(decision, tuple(matches), self.labels)


_SEVERITY = [Decision.PASS, Decision.REVIEW, Decision.DECLINE_SAR]
