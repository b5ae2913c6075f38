"""Transaction-monitoring rules as data: a versioned rules file evaluated over sliding windows.

A rules file (``rules/rules.json``) holds ``{"version": N, "rules": [{id, description, action,
parameters}]}``; every hit carries the file's version so a decision always shows the rules it
was made under. Amounts are USD cents (integers), valued by the caller through
:mod:`keeper.prices`. The engine is pure: it takes the transaction and the client's history (the
service reads it from ``compliance_movements``) and returns the hits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

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


def _within(history: Sequence[Movement], tx: Movement, seconds: int) -> list[Movement]:
    since = tx.at - timedelta(seconds=seconds)
    return [m for m in history if since < m.at <= tx.at and m.id != tx.id]


def _r001(p: dict[str, Any], tx: Movement, hist: Sequence[Movement]) -> str | None:
    def band(m: Movement) -> bool:
        return p["low_cents"] <= m.usd_cents <= p["high_cents"]

    if not band(tx):
        return None
    n = 1 + sum(band(m) for m in _within(hist, tx, p["window_s"]))
    return f"{n} transactions of $9,000-$9,999.99 within 24 h" if n >= p["min_count"] else None


def _r002(p: dict[str, Any], tx: Movement, hist: Sequence[Movement]) -> str | None:
    if tx.kind not in OUT_KINDS:
        return None
    buys = [m for m in _within(hist, tx, p["window_s"]) if m.kind == "buy" and m.at < tx.at]
    return f"transfer out {int((tx.at - buys[-1].at).total_seconds())} s after a buy" if buys else None


def _r003(p: dict[str, Any], tx: Movement, hist: Sequence[Movement]) -> str | None:
    c = (tx.country or "").upper()
    return f"high-risk country {c}" if c and c in {x.upper() for x in p["countries"]} else None


def _r004(p: dict[str, Any], tx: Movement, hist: Sequence[Movement]) -> str | None:
    total = tx.usd_cents + sum(m.usd_cents for m in _within(hist, tx, p["window_s"]))
    return f"{total} cents within 24 h" if total > p["above_cents"] else None


def _r005(p: dict[str, Any], tx: Movement, hist: Sequence[Movement]) -> str | None:
    if tx.kind not in OUT_KINDS:
        return None
    hit = sorted(tx.address_labels & set(p["labels"]))
    return f"destination labelled {', '.join(hit)}" if hit else None


def _r006(p: dict[str, Any], tx: Movement, hist: Sequence[Movement]) -> str | None:
    past = _within(hist, tx, p["baseline_s"])
    if len(past) < p["min_history"]:
        return None
    # baseline: mean of the trailing window, compared without division (integers only)
    if tx.usd_cents * len(past) >= p["factor"] * sum(m.usd_cents for m in past) > 0:
        return f"{tx.usd_cents} cents is {p['factor']}x or more the trailing mean of {len(past)}"
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

EVALUATORS: dict[str, Callable[[dict[str, Any], Movement, Sequence[Movement]], str | None]] = {
    "R001": _r001,
    "R002": _r002,
    "R003": _r003,
    "R004": _r004,
    "R005": _r005,
    "R006": _r006,
}


def evaluate(rules: RuleSet, tx: Movement, history: Sequence[Movement]) -> list[RuleHit]:
    """Every rule of ``rules`` that fires on ``tx`` given the client's earlier ``history``."""
    hits = []
    for rule in rules.rules:
        reason = EVALUATORS[rule.id](rule.parameters, tx, history)
        if reason is not None:
            hits.append(RuleHit(rule.id, rules.version, rule.action, reason))
    return hits
