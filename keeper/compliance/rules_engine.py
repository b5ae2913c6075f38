"""Transaction-monitoring rules as data: a versioned rules file evaluated over sliding windows.

A rules file (``rules/rules.json``) holds ``{"version": N, "rules": [{id, description, action,
parameters}]}``; every hit carries the file's version so a decision always shows the rules it
was made under. Amounts are USD cents (integers), valued by the caller through
:mod:`keeper.prices`. The engine is pure: it takes the transaction and the client's history (the
service reads it from ``compliance_movements``) and returns the hits.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from keeper.prices import PriceFeed, value_cents

IN_KINDS = frozenset({"deposit", "buy", "transfer_in"})
OUT_KINDS = frozenset({"withdrawal", "transfer_out"})
DEFAULT_RULES_FILE = Path(__file__).with_name("rules") / "rules.json"


class Action(Enum):
    """What a rule hit asks for, least to most severe."""

    ALERT = "alert"
    FILE_CTR = "file_ctr"
    HOLD = "hold"
    BLOCK_SAR = "block_sar"


class RulesError(ValueError):
    """A malformed rules file."""


@dataclass(frozen=True)
class Rule:
    """One rule: id, description, action and its parameters (from the rules file)."""

    id: str
    description: str
    action: Action
    parameters: dict[str, Any]


@dataclass(frozen=True)
class RuleSet:
    """A version of the rules file."""

    version: int
    rules: tuple[Rule, ...]

    @classmethod
    def load(cls, path: str | Path = DEFAULT_RULES_FILE) -> RuleSet:
        """Read and validate a rules file (unknown rule ids or actions are refused)."""
        return cls.parse(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> RuleSet:
        """Validate the JSON text of a rules file."""
        try:
            doc = json.loads(text)
            version = doc["version"]
            rules = tuple(
                Rule(r["id"], r["description"], Action(r["action"]), dict(r["parameters"]))
                for r in doc["rules"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise RulesError(f"malformed rules file: {exc}") from exc
        if type(version) is not int or version < 1:
            raise RulesError("version must be a positive integer")
        for r in rules:
            if r.id not in EVALUATORS:
                raise RulesError(f"unknown rule {r.id!r}")
            for name, kind in PARAMETERS[r.id].items():
                value = r.parameters.get(name)
                ok = (
                    (type(value) is int and value >= 0)
                    if kind is int
                    else (isinstance(value, list) and all(type(x) is str for x in value))
                )
                if not ok:
                    raise RulesError(
                        f"{r.id}: parameter {name} must be a non-negative int"
                        if kind is int
                        else f"{r.id}: parameter {name} must be a list of strings"
                    )
        if len({r.id for r in rules}) != len(rules):
            raise RulesError("duplicate rule id")
        return cls(version, rules)


@dataclass(frozen=True)
class Movement:
    """A transaction as the rules see it (``usd_cents`` valued by the caller, integer cents).

    ``kind``: ``buy`` / ``deposit`` (in) or ``withdrawal`` / ``transfer_out`` (out)."""

    id: str
    client_id: str
    kind: str
    asset: str
    units: int
    usd_cents: int
    at: datetime
    address: str | None = None
    counterparty: str | None = None
    country: str | None = None
    address_labels: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        """Refuse what the rules cannot judge: floats, negative amounts, naive times, odd kinds."""
        if type(self.units) is not int or type(self.usd_cents) is not int:
            raise TypeError("units and usd_cents are integers (base units, US cents)")
        if self.units < 0 or self.usd_cents < 0:
            raise ValueError("amounts are non-negative")
        if self.at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        object.__setattr__(self, "at", self.at.astimezone(UTC))  # one zone in storage and windows
        if self.kind not in IN_KINDS | OUT_KINDS:
            raise ValueError(f"kind is one of {sorted(IN_KINDS | OUT_KINDS)}")

    @classmethod
    def valued(
        cls,
        feed: PriceFeed,
        id: str,
        client_id: str,
        kind: str,
        asset: str,
        units: int,  # noqa: A002
        at: datetime,
        **kw: Any,
    ) -> Movement:
        """A movement valued in US cents through ``feed`` (:func:`keeper.prices.value_cents`,
        rounded up: a threshold is never passed by rounding down). A stale price raises."""
        return cls(id, client_id, kind, asset, units, value_cents(feed, asset, units, at), at, **kw)


@dataclass(frozen=True)
class RuleHit:
    """A rule that fired: id, the rules version, its action and why."""

    rule_id: str
    rules_version: int
    action: Action
    reason: str


@dataclass(frozen=True)
class Summary:
    """Stored movements of one client lying between two window edges, as sums: every window of
    the movements judged holds all of them or none, so only their count, total, count in each
    value band, latest buy and latest CTR filing matter (see :func:`reach`). ``at``: a time
    between those edges (the latest of them)."""

    at: datetime
    count: int
    cents: int
    bands: dict[tuple[int, int], int]
    last_buy: datetime | None = None


class History:
    """A client's screened movements in time order with running totals, so every window a rule
    reads is found by bisection instead of a scan of the history (a batch of *n* movements of one
    client costs O(n log n), not O(n^2)).

    ``horizon``: how far back any window may reach (what the caller loaded), ``None``: no bound.
    A window of ``tx`` is ``(max(tx.at - window, tx.at - horizon), tx.at]`` without ``tx.id``
    (a :class:`Summary` holds stored movements, whose ids are never those being judged)."""

    def __init__(self, movements: Iterable[Movement] = (), *, horizon: timedelta | None = None) -> None:
        """Index ``movements`` (any order; equal times keep their order)."""
        self.horizon = horizon
        self._at: list[datetime] = []
        self._items: list[Movement | Summary] = []
        self._buys: list[datetime] = []
        self._ids: dict[str, list[Movement]] = {}
        self._cents = [0]  # _cents[i]: total of the first i entries (valid up to _valid)
        self._counts = [0]  # _counts[i]: movements in the first i entries
        self._bands: dict[tuple[int, int], list[int]] = {}  # running counts within each band
        self._valid = 0
        for m in sorted(movements, key=lambda m: m.at):
            self.add(m)

    def add(self, m: Movement | Summary) -> None:
        """Record ``m`` (a movement or a :class:`Summary`) after any entry at the same time."""
        i = bisect.bisect_right(self._at, m.at)
        self._at.insert(i, m.at)
        self._items.insert(i, m)
        if isinstance(m, Summary):
            if m.last_buy is not None:
                bisect.insort_right(self._buys, m.last_buy)
        else:
            self._ids.setdefault(m.id, []).append(m)
            if m.kind == "buy":
                bisect.insort_right(self._buys, m.at)
        self._valid = min(self._valid, i)

    def _extend(self) -> None:
        """Bring the running totals up to date (only from the first changed position)."""
        n, v = len(self._items), self._valid
        if v == n:
            return
        del self._cents[v + 1:], self._counts[v + 1:]
        for m in self._items[v:]:
            if isinstance(m, Summary):
                self._cents.append(self._cents[-1] + m.cents)
                self._counts.append(self._counts[-1] + m.count)
            else:
                self._cents.append(self._cents[-1] + m.usd_cents)
                self._counts.append(self._counts[-1] + 1)
        for band, counts in self._bands.items():
            lo, hi = band
            del counts[v + 1:]
            for m in self._items[v:]:
                counts.append(counts[-1] + (m.bands[band] if isinstance(m, Summary)
                                            else lo <= m.usd_cents <= hi))
        self._valid = n

    def _span(self, tx: Movement, seconds: int) -> tuple[datetime, int, int]:
        since = tx.at - timedelta(seconds=seconds)
        if self.horizon is not None:
            since = max(since, tx.at - self.horizon)
        return (since, bisect.bisect_right(self._at, since), bisect.bisect_right(self._at, tx.at))

    def _excluded(self, tx: Movement, since: datetime) -> list[Movement]:
        """Movements in ``tx``'s window that carry ``tx``'s own id (a rule never counts them)."""
        return [m for m in self._ids.get(tx.id, ()) if since < m.at <= tx.at]

    def window(self, tx: Movement, seconds: int) -> tuple[int, int]:
        """(count, total US cents) of the movements in ``tx``'s window of ``seconds``."""
        self._extend()
        since, lo, hi = self._span(tx, seconds)
        own = self._excluded(tx, since)
        return (self._counts[hi] - self._counts[lo] - len(own),
                self._cents[hi] - self._cents[lo] - sum(m.usd_cents for m in own))

    def in_band(self, tx: Movement, seconds: int, low: int, high: int) -> int:
        """How many movements in ``tx``'s window are worth ``low..high`` cents (a band a
        :class:`Summary` does not count raises ``KeyError``: build it with :func:`reach`)."""
        if (low, high) not in self._bands:
            self._bands[(low, high)] = [0]
            self._valid = 0
        self._extend()
        since, lo, hi = self._span(tx, seconds)
        counts = self._bands[(low, high)]
        own = self._excluded(tx, since)
        return counts[hi] - counts[lo] - sum(low <= m.usd_cents <= high for m in own)

    def last_buy(self, tx: Movement, seconds: int) -> datetime | None:
        """The time of the latest buy in ``tx``'s window strictly before ``tx.at``."""
        since = self._span(tx, seconds)[0]
        own = sorted(m.at for m in self._excluded(tx, since) if m.kind == "buy" and m.at < tx.at)
        i = bisect.bisect_left(self._buys, tx.at)
        while i > 0 and self._buys[i - 1] > since:
            at = self._buys[i - 1]
            if own and own[-1] == at:  # one of tx's own id: skip that one
                own.pop()
                i -= 1
                continue
            return at
        return None


def _r001(p: dict[str, Any], tx: Movement, hist: History) -> str | None:
    if not p["low_cents"] <= tx.usd_cents <= p["high_cents"]:
        return None
    n = 1 + hist.in_band(tx, p["window_s"], p["low_cents"], p["high_cents"])
    return f"{n} transactions of $9,000-$9,999.99 within 24 h" if n >= p["min_count"] else None


def _r002(p: dict[str, Any], tx: Movement, hist: History) -> str | None:
    if tx.kind not in OUT_KINDS:
        return None
    buy = hist.last_buy(tx, p["window_s"])
    return None if buy is None else f"transfer out {int((tx.at - buy).total_seconds())} s after a buy"


def _r003(p: dict[str, Any], tx: Movement, hist: History) -> str | None:
    c = (tx.country or "").upper()
    return f"high-risk country {c}" if c and c in {x.upper() for x in p["countries"]} else None


def _r004(p: dict[str, Any], tx: Movement, hist: History) -> str | None:
    total = tx.usd_cents + hist.window(tx, p["window_s"])[1]
    return f"{total} cents within 24 h" if total > p["above_cents"] else None


def _r005(p: dict[str, Any], tx: Movement, hist: History) -> str | None:
    if tx.kind not in OUT_KINDS:
        return None
    hit = sorted(tx.address_labels & set(p["labels"]))
    return f"destination labelled {', '.join(hit)}" if hit else None


def _r006(p: dict[str, Any], tx: Movement, hist: History) -> str | None:
    count, total = hist.window(tx, p["baseline_s"])
    if count < p["min_history"]:
        return None
    # baseline: mean of the trailing window, compared without division (integers only)
    if tx.usd_cents * count >= p["factor"] * total > 0:
        return f"{tx.usd_cents} cents is {p['factor']}x or more the trailing mean of {count}"
    return None


#: the parameters each rule needs: ``int`` (non-negative; seconds, cents, counts) or ``list`` of strings
PARAMETERS: dict[str, dict[str, type]] = {
    "R001": {"window_s": int, "min_count": int, "low_cents": int, "high_cents": int},
    "R002": {"window_s": int},
    "R003": {"countries": list},
    "R004": {"window_s": int, "above_cents": int},
    "R005": {"labels": list},
    "R006": {"baseline_s": int, "factor": int, "min_history": int},
}

EVALUATORS: dict[str, Callable[[dict[str, Any], Movement, History], str | None]] = {
    "R001": _r001,
    "R002": _r002,
    "R003": _r003,
    "R004": _r004,
    "R005": _r005,
    "R006": _r006,
}


DEFAULT_WINDOW_S = 86_400  # the window of a rule that names none (a CTR filed once per window)
WINDOW_PARAMETERS = ("window_s", "baseline_s")  # the parameters that are sliding windows


class Reach(NamedTuple):
    """What ``rules`` read of a client's history: window lengths (seconds), value bands (cents,
    inclusive) and the windows CTR filings are counted once per."""

    windows: frozenset[int]
    bands: frozenset[tuple[int, int]]
    ctr_windows: frozenset[int]


def rule_window(rule: Rule) -> int:
    """The sliding window of ``rule`` in seconds (:data:`DEFAULT_WINDOW_S` when it names none)."""
    return int(rule.parameters.get("window_s", DEFAULT_WINDOW_S))


def reach(rules: RuleSet) -> Reach:
    """Every window and band ``rules`` can read (a history summarised between these windows'
    edges judges as the full history, see :class:`Summary`)."""
    windows = {DEFAULT_WINDOW_S}
    bands: set[tuple[int, int]] = set()
    for r in rules.rules:
        windows.update(int(r.parameters[k]) for k in WINDOW_PARAMETERS if k in r.parameters)
        if "low_cents" in r.parameters:
            bands.add((int(r.parameters["low_cents"]), int(r.parameters["high_cents"])))
    ctr = frozenset(rule_window(r) for r in rules.rules if r.action is Action.FILE_CTR)
    return Reach(frozenset(windows | ctr), frozenset(bands), ctr)


def evaluate(rules: RuleSet, tx: Movement, history: Sequence[Movement] | History) -> list[RuleHit]:
    """Every rule of ``rules`` that fires on ``tx`` given the client's earlier ``history`` (a
    :class:`History` when judging many movements of one client: indexing a plain sequence costs
    a pass over it)."""
    if not isinstance(history, History):
        history = History(history)
    hits = []
    for rule in rules.rules:
        reason = EVALUATORS[rule.id](rule.parameters, tx, history)
        if reason is not None:
            hits.append(RuleHit(rule.id, rules.version, rule.action, reason))
    return hits
