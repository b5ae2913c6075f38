"""Fund-flow tracing over the mirrored transfers, with labelled addresses marked.

:func:`trace` follows value from a start (an address, or a transaction hash: that
transaction's movements) outwards (``out``: where the money went), inwards (``in``: where it came
from) or both, hop by hop, in time order: a hop out of an address is followed only if it left at
or after the time value reached that address (and a hop in only if it arrived before the value
left), within the optional time window.

Each address is expanded at most once per direction (from the earliest time value reached it,
going out; the latest it left, going in), so cycles and repeated transfers cost one read each.
Bounds (all in :class:`TraceLimits`, so a hostile graph cannot make a trace unbounded):
``depth`` hops (at most :data:`MAX_DEPTH`), ``fanout`` movements followed per address and
direction (the largest of each asset, assets in turn: base units of two assets are not
compared; the rest counted as ``truncated``), ``max_nodes`` addresses in
the result. Dust never entered the mirror (:mod:`keeper.forensics.mirror`).

Labels (:class:`AddressLabels`) come from compliance (:meth:`AddressLabels.from_compliance`:
the current sanctions lists' addresses as ``sanctioned``, the labelled lists' labels such as
``mixer`` or ``exchange``) and from what the caller knows: our own wallets and tiers
(``own:<name>``), partners (``partner:<name>``) and clients' whitelisted addresses
(``whitelisted:<client>``). :func:`known_labels` is what the keeper knows: compliance's lists,
the given own wallets and every partner sub-account's deposit address
(``partner:<partner>:<client>``, :func:`keeper.partners.deposit_addresses`).

Exports for investigators: :meth:`Trace.to_json` (nodes with labels and depth, edges with every
field), :meth:`Trace.to_csv` (one row per movement) and :meth:`Trace.to_dot` (GraphViz; labelled
nodes drawn and coloured, sanctioned in red).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import zip_longest
from typing import Any

from sqlalchemy import Engine, select

from keeper.compliance import LabelStore, ListStore, normalise_address
from keeper.forensics.mirror import Movement, movement
from keeper.forensics.models import TransferRow
from keeper.partners import deposit_addresses

MAX_DEPTH = 10
DIRECTIONS = ("out", "in", "both")


@dataclass(frozen=True)
class TraceLimits:
    """How far a trace goes: hops, movements per address and direction, addresses in total,
    and the time window (inclusive) of the movements followed."""

    depth: int = 3
    fanout: int = 25
    max_nodes: int = 500
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.depth <= MAX_DEPTH:
            raise ValueError(f"depth must be 1..{MAX_DEPTH}")
        if self.fanout < 1 or self.max_nodes < 1:
            raise ValueError("fanout and max_nodes must be positive")


@dataclass
class AddressLabels:
    """Labels by lower-case address."""

    labels: dict[str, set[str]] = field(default_factory=dict)

    def add(self, addresses: Iterable[str], label: str) -> AddressLabels:
        """Label each of ``addresses`` (any case) with ``label``; returns self."""
        for a in addresses:
            try:
                key = normalise_address(a)
            except ValueError:
                continue
            self.labels.setdefault(key, set()).add(label)
        return self

    def add_named(self, named: Mapping[str, str], prefix: str) -> AddressLabels:
        """Label each address of ``named`` (address -> name) as ``<prefix>:<name>``."""
        for address, name in named.items():
            self.add([address], f"{prefix}:{name}")
        return self

    def of(self, address: str) -> list[str]:
        """The sorted labels of ``address`` (empty when unlabelled)."""
        return sorted(self.labels.get(address.lower(), ()))

    def having(self, prefixes: Iterable[str]) -> set[str]:
        """Addresses with a label equal to or starting with ``<prefix>:`` for any prefix."""
        ps = tuple(prefixes)
        return {a for a, ls in self.labels.items()
                if any(lb == p or lb.startswith(p + ":") for lb in ls for p in ps)}

    @classmethod
    def from_compliance(cls, engine: Engine, *, own: Mapping[str, str] | None = None,
                        partners: Mapping[str, str] | None = None,
                        whitelisted: Mapping[str, str] | None = None) -> AddressLabels:
        """Sanctioned and labelled addresses from compliance's current lists on ``engine``,
        plus ``own`` wallets, ``partners`` and clients' ``whitelisted`` addresses (each
        address -> name)."""
        out = cls()
        for version in ListStore(engine).current_all():
            out.add((a.address for e in version.entries for a in e.addresses), "sanctioned")
        for label, addresses in LabelStore(engine).current_labels().items():
            out.add(addresses, label)
        out.add_named(own or {}, "own")
        out.add_named(partners or {}, "partner")
        out.add_named(whitelisted or {}, "whitelisted")
        return out


def known_labels(engine: Engine, own: Mapping[str, str]) -> AddressLabels:
    """The labels the keeper knows: compliance's lists, our ``own`` wallets (address -> name)
    and every partner sub-account's deposit address (``partner:<partner>:<client>``)."""
    return AddressLabels.from_compliance(engine, own=own, partners=deposit_addresses(engine))


@dataclass
class Trace:
    """The result of a trace: addresses (depth, labels), movements, what the bounds cut."""

    start: str
    direction: str
    limits: TraceLimits
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[Movement] = field(default_factory=list)
    truncated: int = 0

    def labelled(self) -> dict[str, list[str]]:
        """The labelled addresses reached, with their labels."""
        return {a: n["labels"] for a, n in self.nodes.items() if n["labels"]}

    def to_json(self) -> str:
        """The whole trace as JSON (amounts as decimal strings)."""
        return json.dumps({
            "start": self.start, "direction": self.direction,
            "limits": {"depth": self.limits.depth, "fanout": self.limits.fanout,
                       "max_nodes": self.limits.max_nodes,
                       "since": _iso(self.limits.since), "until": _iso(self.limits.until)},
            "truncated": self.truncated,
            "nodes": [{"address": a, **n} for a, n in sorted(self.nodes.items())],
            "edges": [_edge(m) for m in self.edges],
        }, sort_keys=True, indent=1)

    def to_csv(self) -> str:
        """One CSV row per movement, with both ends' labels."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["block_number", "block_time", "tx_hash", "log_index", "asset", "amount",
                    "sender", "sender_labels", "recipient", "recipient_labels"])
        for m in self.edges:
            w.writerow([m.block_number, m.block_time.isoformat(), m.tx_hash, m.log_index,
                        m.asset, m.amount, m.sender, ";".join(self._labels(m.sender)),
                        m.recipient, ";".join(self._labels(m.recipient))])
        return buf.getvalue()

    def to_dot(self) -> str:
        """A GraphViz digraph: one node per address (labels shown, sanctioned red, other
        labelled ones orange, the start doubled), one edge per movement."""
        lines = ["digraph trace {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
        for a, n in sorted(self.nodes.items()):
            text = "\\n".join(_dot(x) for x in [a, *n["labels"]])
            attrs = [f'label="{text}"']
            if any(lb == "sanctioned" for lb in n["labels"]):
                attrs.append('color="red", style="filled", fillcolor="mistyrose"')
            elif n["labels"]:
                attrs.append('color="orange"')
            if n["depth"] == 0:
                attrs.append("peripheries=2")
            lines.append(f'  "{a}" [{", ".join(attrs)}];')
        for m in self.edges:
            lines.append(f'  "{m.sender}" -> "{m.recipient}" '
                         f'[label="{m.amount} {_dot(m.asset)}\\n{m.tx_hash[:10]}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _labels(self, address: str) -> list[str]:
        return self.nodes.get(address, {}).get("labels", [])


def trace(engine: Engine, start: str, labels: AddressLabels | None = None, *,
          direction: str = "out", limits: TraceLimits | None = None) -> Trace:
    """Trace the movements from ``start`` (an address, or a 32-byte transaction hash) in
    ``direction`` (``out``, ``in`` or ``both``) within ``limits``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    limits = limits or TraceLimits()
    labels = labels or AddressLabels()
    key = start.strip().lower()
    result = Trace(key, direction, limits)
    seen_edges: set[tuple[str, int]] = set()
    frontier: list[tuple[str, str, datetime | None]] = []  # (address, direction, time)

    def visit(address: str, depth: int) -> bool:
        if address in result.nodes:
            return True
        if len(result.nodes) >= limits.max_nodes:
            result.truncated += 1
            return False
        result.nodes[address] = {"depth": depth, "labels": labels.of(address)}
        return True

    def take(m: Movement) -> None:
        if (m.tx_hash, m.log_index) not in seen_edges:
            seen_edges.add((m.tx_hash, m.log_index))
            result.edges.append(m)

    dirs = ("out", "in") if direction == "both" else (direction,)
    if len(key) == 66:  # a transaction: its movements, and their two ends are the start
        for m in _of_tx(engine, key):
            take(m)
            visit(m.sender, 0)
            visit(m.recipient, 0)
            frontier += [(m.recipient if d == "out" else m.sender, d, m.block_time) for d in dirs]
    else:
        visit(key, 0)
        frontier = [(key, d, None) for d in dirs]
    expanded: set[tuple[str, str]] = set()
    for depth in range(limits.depth):
        nxt: dict[tuple[str, str], datetime | None] = {}
        for address, d, at in _once(frontier):
            if (address, d) in expanded:
                continue
            expanded.add((address, d))
            moves, cut = _hops(engine, address, d, at, limits)
            result.truncated += cut
            for m in moves:
                node = m.recipient if d == "out" else m.sender
                if not visit(node, depth + 1):
                    continue
                take(m)
                if (node, d) not in expanded:
                    nxt[(node, d)] = _widest(d, nxt.get((node, d)), m.block_time)
        frontier = [(a, d, at) for (a, d), at in nxt.items()]
    result.edges.sort(key=lambda m: (m.block_number, m.log_index, m.tx_hash))
    return result


def _widest(d: str, known: datetime | None, at: datetime) -> datetime:
    """The time bound that follows the most: the earliest arrival (out), the latest departure
    (in)."""
    if known is None:
        return at
    return min(known, at) if d == "out" else max(known, at)


def _once(frontier: list[tuple[str, str, datetime | None]]
          ) -> list[tuple[str, str, datetime | None]]:
    """One entry per (address, direction), with its widest time bound."""
    out: dict[tuple[str, str], datetime | None] = {}
    for a, d, at in frontier:
        key = (a, d)
        if key not in out:
            out[key] = at
        elif at is not None and out[key] is not None:
            out[key] = _widest(d, out[key], at)
        else:
            out[key] = None
    return [(a, d, at) for (a, d), at in out.items()]


def _of_tx(engine: Engine, tx_hash: str) -> list[Movement]:
    with engine.connect() as conn:
        rows = conn.execute(select(TransferRow.__table__)
                            .where(TransferRow.tx_hash == tx_hash)).all()
    return [movement(r) for r in rows]


def _hops(engine: Engine, address: str, d: str, at: datetime | None,
          limits: TraceLimits) -> tuple[list[Movement], int]:
    """The ``fanout`` largest movements out of (or into) ``address`` in time order after (or
    before) ``at``, and how many more there were."""
    t = TransferRow.__table__.c
    q = select(TransferRow.__table__).where(t.sender == address if d == "out"
                                            else t.recipient == address)
    lo = _bound(max, limits.since, at if d == "out" else None)
    hi = _bound(min, limits.until, at if d == "in" else None)
    if lo is not None:
        q = q.where(t.block_time >= lo)
    if hi is not None:
        q = q.where(t.block_time <= hi)
    cap = limits.fanout * 8  # read a bounded window; the largest of it are followed
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(t.block_number, t.id).limit(cap + 1)).all()
    by_asset: dict[str, list[Movement]] = {}
    for m in sorted((movement(r) for r in rows[:cap]), key=lambda m: -m.amount):
        by_asset.setdefault(m.asset, []).append(m)
    ranked = [m for rank in zip_longest(*(by_asset[a] for a in sorted(by_asset)))
              for m in rank if m is not None]  # largest of each asset first, assets in turn
    extra = max(len(rows) - limits.fanout, 0)
    return ranked[:limits.fanout], extra


def _bound(pick: Any, *values: datetime | None) -> datetime | None:
    given = [v for v in values if v is not None]
    return pick(given) if given else None


def _edge(m: Movement) -> dict[str, Any]:
    return {"block_number": m.block_number, "block_hash": m.block_hash,
            "block_time": m.block_time.isoformat(), "tx_hash": m.tx_hash,
            "log_index": m.log_index, "asset": m.asset, "token": m.token, "sender": m.sender,
            "recipient": m.recipient, "amount": str(m.amount)}


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _dot(text: str) -> str:
    """``text`` inside a GraphViz double-quoted string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')
