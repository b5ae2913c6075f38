"""Anomaly detectors: each a small class whose thresholds are data (a frozen dataclass).

A detector sees one :class:`~keeper.forensics.events.Event` at a time with its own persisted
state (:class:`State`: JSON values by key, saved by the pipeline with the cursors) and returns
:class:`Finding` s, each carrying the forensic chain (the events) that explains it. Arithmetic on
amounts is integer only (medians, absolute deviations, percentages as integers).

* :class:`VolumeSpike`: a client's movement far above its own rolling baseline (the median of
  its last ``window`` amounts of that asset and kind family, and the median absolute deviation).
* :class:`NewDestinationLarge`: a withdrawal at or above a per-asset amount to an address the
  client never withdrew to before.
* :class:`UnusualHours`: a client's login or movement in an hour of day (UTC, with the
  neighbouring hours) that holds under ``rare_percent`` of its history.
* :class:`Burst`: more than ``max_events`` events of some kinds by one actor within
  ``window_s`` seconds (signing requests; failed authentications).
* :class:`PeelChain`: on the chain, value received then mostly forwarded (``keep_percent`` to
  100 % exclusive: something was peeled off) to a next address, ``min_hops`` times in a row,
  each hop within ``window_s`` of the previous (never through our own wallets or exchanges).
* :class:`FanIn`: ``min_senders`` distinct addresses paying one address within ``window_s``
  (our own wallets, partners and exchanges excepted: they receive from many by design).

State is bounded: per key, lists are capped; address-keyed detectors (peel chain, fan-in) expire
entries older than their window and keep at most ``max_keys`` keys (the oldest dropped first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keeper.forensics.events import Event


@dataclass(frozen=True)
class Finding:
    """An anomaly: which detector, about whom, the event that tripped it and why."""

    detector: str
    subject: str
    event: Event
    summary: str
    evidence: list[dict[str, Any]]
    anchor: str = ""  # what makes it unique (default: the tripping event's key)

    @property
    def alert_key(self) -> str:
        """A stable, fixed-length id: the same anomaly found twice is one alert."""
        raw = f"{self.detector}|{self.anchor or self.event.key}"
        return hashlib.sha256(raw.encode()).hexdigest()[:64]


MAX_KEY = 200


class State:
    """A detector's state: JSON values by key, with the keys changed since the last save."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self.dirty: set[str] = set()

    def get(self, key: str) -> Any:
        """The value of ``key`` or None."""
        return self.values.get(_key(key))

    def put(self, key: str, value: Any) -> None:
        """Set ``key``."""
        k = _key(key)
        self.values[k] = value
        self.dirty.add(k)

    def drop(self, key: str) -> None:
        """Remove ``key``."""
        k = _key(key)
        if self.values.pop(k, None) is not None:
            self.dirty.add(k)

    def __len__(self) -> int:
        return len(self.values)

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every (key, value)."""
        return iter(list(self.values.items()))


def _key(key: str) -> str:
    """A stored key fits its column (200): longer ones (hostile actor names) are hashed."""
    return key if len(key) <= MAX_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class Detector:
    """Base class: a name and :meth:`observe`."""

    name = "detector"
    max_keys = 0  # 0: unbounded by keys (bounded per key); else oldest keys dropped beyond it

    def observe(self, event: Event, state: State) -> list[Finding]:
        """The findings ``event`` makes (updating ``state``)."""
        raise NotImplementedError

    def trim(self, state: State) -> None:
        """Drop the oldest keys beyond :attr:`max_keys` (values carry their time ``at``)."""
        if self.max_keys and len(state) > self.max_keys:
            by_age = sorted(state.items(), key=lambda kv: kv[1].get("at", 0))
            for k, _ in by_age[:len(state) - self.max_keys]:
                state.drop(k)


def _ts(at: datetime) -> int:
    return int(at.timestamp())


def _median(values: list[int]) -> int:
    s = sorted(values)
    return s[(len(s) - 1) // 2]


CLIENT_MONEY = ("deposit", "withdrawal", "movement")


@dataclass(frozen=True)
class VolumeSpike(Detector):
    """A movement above ``ratio_percent`` of the client's median *and* above the median plus
    ``mad_k`` median absolute deviations, once the client has ``min_history`` movements (one
    baseline per client, asset and kind: deposits, withdrawals and other movements apart)."""

    window: int = 50
    min_history: int = 10
    ratio_percent: int = 500
    mad_k: int = 8
    kinds: tuple[str, ...] = CLIENT_MONEY
    name = "volume_spike"

    def observe(self, event: Event, state: State) -> list[Finding]:
        """See :class:`Detector`."""
        if event.kind not in self.kinds or not event.amount or not event.actor:
            return []
        key = f"{event.actor}|{event.asset}|{event.kind}"
        st = state.get(key) or {"amounts": [], "keys": []}
        amounts: list[int] = [int(a) for a in st["amounts"]]
        out: list[Finding] = []
        if len(amounts) >= self.min_history:
            med = _median(amounts)
            mad = _median([abs(a - med) for a in amounts])
            if (event.amount * 100 > med * self.ratio_percent
                    and event.amount > med + self.mad_k * max(mad, 1)):
                out.append(Finding(self.name, event.actor, event,
                                   f"{event.kind} of {event.amount} {event.asset} by {event.actor}"
                                   f" is {event.amount * 100 // max(med, 1)}% of its median {med}"
                                   f" (MAD {mad}, {len(amounts)} movements)",
                                   [{"baseline": {"median": str(med), "mad": str(mad),
                                                  "n": len(amounts),
                                                  "recent": st["keys"][-5:]}},
                                    event.brief()]))
        amounts.append(event.amount)
        keys = [*st["keys"], event.key][-self.window:]
        state.put(key, {"amounts": [str(a) for a in amounts[-self.window:]], "keys": keys})
        return out


@dataclass(frozen=True)
class NewDestinationLarge(Detector):
    """A withdrawal of at least ``large[asset]`` to a destination new for the client."""

    large: Mapping[str, int] = field(default_factory=lambda: {
        "USDC": 100_000 * 10**6, "USDT": 100_000 * 10**6, "ETH": 50 * 10**18, "BTC": 2 * 10**8})
    known_cap: int = 1000
    name = "new_destination_large"

    def observe(self, event: Event, state: State) -> list[Finding]:
        """See :class:`Detector`."""
        if event.kind != "withdrawal" or not event.recipient or not event.actor:
            return []
        known: list[str] = state.get(event.actor) or []
        out: list[Finding] = []
        threshold = self.large.get(event.asset)
        if event.recipient not in known:
            if threshold is not None and event.amount >= threshold:
                out.append(Finding(self.name, event.actor, event,
                                   f"withdrawal of {event.amount} {event.asset} by {event.actor} "
                                   f"to {event.recipient}, a destination it never used "
                                   f"(threshold {threshold})",
                                   [{"known_destinations": len(known)}, event.brief()]))
            state.put(event.actor, [*known, event.recipient][-self.known_cap:])
        return out


@dataclass(frozen=True)
class UnusualHours(Detector):
    """An event in an hour of day (UTC) that, with its ``spread`` neighbouring hours either
    side, holds under ``rare_percent`` % of the client's ``min_history``-or-more past events."""

    min_history: int = 30
    rare_percent: int = 2
    spread: int = 1
    kinds: tuple[str, ...] = ("login", "withdrawal", "movement")
    name = "unusual_hours"

    def observe(self, event: Event, state: State) -> list[Finding]:
        """See :class:`Detector`."""
        if event.kind not in self.kinds or not event.actor or event.actor == "anonymous":
            return []
        hours: list[int] = state.get(event.actor) or [0] * 24
        total = sum(hours)
        h = event.at.hour
        near = sum(hours[(h + d) % 24] for d in range(-self.spread, self.spread + 1))
        out: list[Finding] = []
        if total >= self.min_history and near * 100 < self.rare_percent * total:
            out.append(Finding(self.name, event.actor, event,
                               f"{event.kind} by {event.actor} at {h:02d}h UTC: {near} of its "
                               f"{total} past events were within {self.spread}h of that hour",
                               [{"hour_histogram": hours}, event.brief()]))
        hours = list(hours)
        hours[h] += 1
        state.put(event.actor, hours)
        return out


@dataclass(frozen=True)
class Burst(Detector):
    """More than ``max_events`` events of ``kinds`` by one actor within ``window_s`` seconds
    (a finding when the count exceeds the limit; the count then starts again, so a burst going
    on alerts again after as many fresh events; ``name`` tells the instances apart)."""

    name: str = "burst"  # type: ignore[misc]
    kinds: tuple[str, ...] = ("signing",)
    max_events: int = 5
    window_s: int = 60

    def observe(self, event: Event, state: State) -> list[Finding]:
        """See :class:`Detector`."""
        if event.kind not in self.kinds:
            return []
        now = _ts(event.at)
        st = state.get(event.actor) or {"recent": []}
        recent = [r for r in st["recent"] if now - r[0] < self.window_s]
        recent.append([now, event.key])
        out: list[Finding] = []
        if len(recent) > self.max_events:
            out.append(Finding(self.name, event.actor, event,
                               f"{len(recent)} {'/'.join(self.kinds)} events by {event.actor} "
                               f"within {self.window_s}s (limit {self.max_events})",
                               [{"events": [k for _, k in recent]}, event.brief()]))
            recent = []  # a burst going on alerts again after as many fresh events
        state.put(event.actor, {"recent": recent[-(self.max_events * 4):], "at": now})
        return out


@dataclass(frozen=True)
class PeelChain(Detector):
    """A chain of ``min_hops`` hops where each address forwards between ``keep_percent`` % and
    100 % (exclusive) of what it received, within ``window_s`` of receiving it (hops into or out
    of ``ignore``, our own wallets and exchanges, are not part of a chain)."""

    min_hops: int = 3
    keep_percent: int = 80
    window_s: int = 6 * 3600
    ignore: frozenset[str] = frozenset()
    max_keys: int = 200_000
    name = "peel_chain"

    def observe(self, event: Event, state: State) -> list[Finding]:
        """See :class:`Detector`."""
        if (event.kind != "transfer" or event.sender == event.recipient
                or event.recipient in self.ignore or event.sender in self.ignore):
            return []
        now = _ts(event.at)
        got = state.get(f"{event.sender}|{event.asset}")
        out: list[Finding] = []
        mine = {"amount": str(event.amount), "hops": 0, "path": [event.brief()], "at": now}
        if got is not None and now - got["at"] <= self.window_s:
            received = int(got["amount"])
            if received > event.amount and event.amount * 100 >= received * self.keep_percent:
                path = [*got["path"], event.brief()][-(self.min_hops + 6):]
                mine = {"amount": str(event.amount), "hops": got["hops"] + 1, "path": path,
                        "at": now, "first": got.get("first") or got["path"][0]["key"]}
                state.drop(f"{event.sender}|{event.asset}")  # its value moved on
                if mine["hops"] == self.min_hops:
                    out.append(Finding(self.name, event.recipient, event,
                                       f"peel chain of {mine['hops']} hops in {event.asset}: "
                                       f"{path[0].get('recipient', '?')} -> {event.recipient}, "
                                       f"each forwarding {self.keep_percent}-99% of what it got",
                                       path, anchor=mine["first"]))
        current = state.get(f"{event.recipient}|{event.asset}")
        if (current is None or current["hops"] <= mine["hops"]
                or now - current["at"] > self.window_s):
            state.put(f"{event.recipient}|{event.asset}", mine)
        return out


@dataclass(frozen=True)
class FanIn(Detector):
    """``min_senders`` distinct senders paying one address within ``window_s`` seconds
    (addresses in ``ignore`` never count as the collector)."""

    min_senders: int = 5
    window_s: int = 3600
    ignore: frozenset[str] = frozenset()
    max_keys: int = 200_000
    name = "fan_in"

    def observe(self, event: Event, state: State) -> list[Finding]:
        """See :class:`Detector`."""
        if event.kind != "transfer" or event.recipient in self.ignore:
            return []
        now = _ts(event.at)
        key = f"{event.recipient}|{event.asset}"
        recent = [r for r in (state.get(key) or {"recent": []})["recent"]
                  if now - r["t"] < self.window_s]
        recent.append({"t": now, **event.brief()})
        senders = {r["sender"] for r in recent}
        out: list[Finding] = []
        if len(senders) >= self.min_senders:
            out.append(Finding(self.name, event.recipient, event,
                               f"{len(senders)} distinct senders paid {event.recipient} in "
                               f"{event.asset} within {self.window_s}s",
                               [{k: v for k, v in r.items() if k != "t"} for r in recent],
                               anchor=f"{event.recipient}|{recent[0]['key']}"))
            recent = []  # the next alert needs a fresh set of senders
        state.put(key, {"recent": recent[-(self.min_senders * 4):], "at": now})
        return out


def default_detectors(ignore_collectors: frozenset[str] = frozenset()) -> list[Detector]:
    """The detector set the keeper runs (thresholds as defaults above); ``ignore_collectors``:
    our own wallets, partners and exchanges (never a fan-in collector nor a peel-chain hop)."""
    return [VolumeSpike(), NewDestinationLarge(), UnusualHours(),
            Burst(name="signing_burst", kinds=("signing",), max_events=5, window_s=60),
            Burst(name="auth_failure_burst", kinds=("auth_failed",), max_events=10, window_s=60),
            PeelChain(ignore=ignore_collectors), FanIn(ignore=ignore_collectors)]
