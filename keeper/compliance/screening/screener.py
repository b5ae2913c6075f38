"""The hot path: screen a transaction (address + counterparty name) against list versions.

Addresses: one dict lookup on the normalised address (:mod:`.addresses`). Weak aliases: one
dict lookup on their sorted tokens (exact matches only, see :mod:`.matcher`).

Names, with candidate blocking so that only a few names are scored in full:

1. an inverted index maps every listed token, every run of two or three adjacent listed tokens
   run together, every phonetic key and every listed initial to the names holding it; the
   query's tokens (and its runs of two or three tokens) look themselves up exactly, by phonetic
   key, and within the matcher's own ``len // 4`` edit budget in a length-bucketed vocabulary
   (:class:`_Vocabulary`);
2. a name reached only by tokens that cannot reach the review threshold is dropped: an upper
   bound of its score assumes every token that found it aligns perfectly with the heaviest
   weight, and every query token that did not find it stays unmatched. Only names whose bound is
   >= 70 are scored by :mod:`.matcher`. The bound never under-estimates, so recall is unchanged
   (``tests/keeper/compliance/test_screener.py`` compares with scoring every name).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.matcher import (
    EXTRA_QUERY_WEIGHT,
    FAMILY_WEIGHT,
    JOIN_RUNS,
    REVIEW_FROM,
    Decision,
    NameScore,
    context_penalties,
    score_tokens,
    weak_alias_key,
    weak_alias_score,
)
from keeper.compliance.screening.names import Token, phonetic, tokenize
from keeper.compliance.screening.records import ListEntry, ListVersion

MAX_NAME_LENGTH = 300  # characters of a name to screen
MAX_NAME_TOKENS = 24
NEAR_CACHE = 16_384  # query tokens whose fuzzy neighbours are remembered, per screener


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


def _runs(tokens: tuple[Token, ...], i: int) -> list[tuple[int, str]]:
    """(length, text) of the runs of :data:`JOIN_RUNS` tokens starting at ``i``, run together."""
    return [(n, "".join(t.text for t in tokens[i:i + n])) for n in JOIN_RUNS if i + n <= len(tokens)]


class _Vocabulary:
    """Strings bucketed by length for lookups within the matcher's ``len // 4`` edit budget.

    A budget of one edit (both strings shorter than 8) needs no scan: split the query in halves
    ``A + B``; one edit leaves one half intact, so a match starts with ``A`` or ends with ``B``
    (an exact index of short prefixes and suffixes). Larger budgets scan the length buckets
    that can be in reach with rapidfuzz's Levenshtein and its ``score_cutoff``."""

    def __init__(self) -> None:
        self.by_length: dict[int, list[str]] = defaultdict(list)
        self.ends: dict[tuple[int, bool, str], list[str]] = defaultdict(list)

    def add(self, word: str) -> None:
        """Store ``word`` (once)."""
        size = len(word)
        self.by_length[size].append(word)
        if size < 8:
            for h in range(1, min(size, 4) + 1):
                self.ends[(size, True, word[:h])].append(word)
                self.ends[(size, False, word[-h:])].append(word)

    def near(self, word: str) -> list[str]:
        """Every stored string within ``max(len) // 4`` edits of ``word``."""
        out: list[str] = []
        size = len(word)
        half = size // 2
        for length in range(max(1, size - size // 3 - 1), size + size // 3 + 2):
            budget = max(size, length) // 4
            if budget == 0 or abs(length - size) > budget:
                continue
            if budget == 1:
                found = {*self.ends.get((length, True, word[:half]), ()),
                         *self.ends.get((length, False, word[half:]), ())}
                out.extend(w for w in found if Levenshtein.distance(word, w, score_cutoff=1) <= 1)
                continue
            bucket = self.by_length.get(length)
            if bucket:
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
        self._vocab = _Vocabulary()  # listed tokens
        self._pair_vocab = _Vocabulary()  # two adjacent listed tokens run together
        self._pair_keys: set[str] = set()
        self._weak: dict[tuple[str, ...], list[tuple[int, str]]] = defaultdict(list)
        for version in self.versions:
            for entry in version.entries:
                self._add(version, entry)
        self._postings = dict(self._postings)
        for key in self._pair_keys:
            self._pair_vocab.add(key)
        for key in self._postings:
            if not key.startswith(("#", "^")) and key not in self._pair_keys:
                self._vocab.add(key)
        del self._pair_keys
        # the same tokens come back all day (given names, company words): remember their neighbours
        self._near = lru_cache(maxsize=NEAR_CACHE)(self._vocab.near)
        self._pair_near = lru_cache(maxsize=NEAR_CACHE)(self._pair_vocab.near)

    def _add(self, version: ListVersion, entry: ListEntry) -> None:
        index = len(self._entries)
        self._entries.append((version, entry))
        for listed in entry.addresses:
            self._addresses.setdefault(listed.address, []).append(index)
        for weak in entry.weak_names:
            key = weak_alias_key(tokenize(weak))
            if key is not None:
                self._weak[key].append((index, weak))
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
                for _, run in _runs(tokens, i):
                    keys.update((run, "#" + phonetic(run)))
                    self._pair_keys.add(run)
            for key in keys:
                self._postings[key].append(name_id)

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
            for name_id in self._lookup(tok.text, pairs=True):
                hits[name_id].add(i)
            for n, run in _runs(tokens, i):  # a listed token may be a query run
                for name_id in self._lookup(run, pairs=False):
                    hits[name_id].update(range(i, i + n))
        distinctive = {i for i, t in enumerate(tokens) if t.cls.distinctive and len(t.text) > 1}
        free = sum(1 for t in tokens if len(t.text) == 1)  # initials: assume aligned
        miss = [0.0 if len(t.text) == 1 else EXTRA_QUERY_WEIGHT * t.weight for t in tokens]
        all_missing = sum(miss)
        out = set()
        for name_id, found in hits.items():
            if found.isdisjoint(distinctive):
                continue
            aligned = FAMILY_WEIGHT * (len(found) + free)
            missing = all_missing - sum(miss[i] for i in found)
            if 100 * aligned / (aligned + missing) >= REVIEW_FROM:
                out.add(name_id)
        return out

    def _lookup(self, word: str, pairs: bool) -> list[int]:
        postings = self._postings
        found = list(postings.get(word, ()))
        found += postings.get("#" + phonetic(word), ())
        found += postings.get("^" + word[0], ())
        near = self._near(word) + (self._pair_near(word) if pairs else [])
        for key in near:
            found += postings[key]
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
        for index, listed in self._weak.get(weak_alias_key(tokens) or (), ()):
            entry = self._entries[index][1]
            scored = weak_alias_score(tokens, listed, context_penalties(
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
