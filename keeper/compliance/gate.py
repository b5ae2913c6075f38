"""Pieces of the screening gate that one movement and a batch share (one home each):

* :func:`prescreen`: what is decided before the client's lock (address risk, sanctions);
* :func:`load_freezes` / :func:`frozen_reason`: the freezes of a set of clients and addresses;
* :class:`Histories`: each client's screened movements of the rules' windows, read once per batch
  and extended in memory as the batch decides, so movement *k* of a batch sees exactly what a
  separate :meth:`~keeper.compliance.ComplianceService.screen` of it would have read.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, select, union_all

from keeper.compliance.models import FreezeRow, MovementRow
from keeper.compliance.risk import AddressRisk
from keeper.compliance.rules_engine import History, Movement, Reach, Summary
from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.matcher import Decision
from keeper.compliance.screening.screener import Screener
from keeper.compliance.totals import CTR_FILED, gap_summaries
from keeper.ledger import utc

HISTORY = timedelta(days=31)  # the longest window the rules read (R006 baseline: 30 days)
_MOV, _FRZ = MovementRow.__table__, FreezeRow.__table__
_CHUNK = 500  # keys per IN (...) query


@dataclass
class Findings:
    """What was found on a movement before its client's lock: labels merged into ``tx``."""

    tx: Movement
    outcome: str = "allow"
    sar: bool = False
    reasons: list[str] = field(default_factory=list)


def prescreen(tx: Movement, risk: AddressRisk | None, screener: Screener | None) -> Findings:
    """Address risk and sanctions screening of ``tx`` (reads no compliance table)."""
    found = Findings(tx)
    labels = set(tx.address_labels)
    if tx.address is not None and risk is not None:
        s = risk.score(tx.address)
        labels |= s.labels
        if s.band != "approve":
            found.outcome = "block" if s.band == "block" else "review"
            found.sar = s.band == "block"
            found.reasons.append(f"address risk {s.score}: {s.reason}")
    if screener is not None and (tx.address or tx.counterparty):
        res = screener.screen_transaction(tx.address, tx.counterparty, tx.country)
        if res.decision is Decision.DECLINE_SAR:
            found.outcome, found.sar = "block", True
        elif res.decision is Decision.REVIEW and found.outcome == "allow":
            found.outcome = "review"
        found.reasons += [
            f"sanctions {m.list_name}@v{m.list_version} {m.entry.uid} score {m.score:.0f}"
            for m in res.matches
        ]
    if labels != tx.address_labels:
        found.tx = replace(tx, address_labels=frozenset(labels))
    return found


def _chunks(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(keys), _CHUNK):
        yield keys[i:i + _CHUNK]


def load_freezes(conn: Connection, client_ids: Iterable[str],
                 addresses: Iterable[str]) -> dict[tuple[str, str], Any]:
    """``{(subject, key): row}`` of the freezes on ``client_ids`` and (normalised) ``addresses``."""
    found: dict[tuple[str, str], Any] = {}
    for subject, keys in (("client", sorted(set(client_ids))), ("address", sorted(set(addresses)))):
        for part in _chunks(keys):
            rows = conn.execute(select(_FRZ.c.subject, _FRZ.c.key, _FRZ.c.reason, _FRZ.c.case_id)
                                .where(_FRZ.c.subject == subject, _FRZ.c.key.in_(part)))
            found.update({(r.subject, r.key): r for r in rows})
    return found


def freeze_keys(client_id: str, address: str | None) -> list[tuple[str, str]]:
    """The freeze subjects a movement of ``client_id`` to ``address`` is checked against."""
    return [("client", client_id)] + ([("address", normalise_address(address))] if address else [])


def frozen_reason(freezes: dict[tuple[str, str], Any], client_id: str,
                  address: str | None) -> str | None:
    """Why ``client_id`` (or ``address``) may not move, from :func:`load_freezes`; ``None``: free."""
    for subject, key in freeze_keys(client_id, address):
        row = freezes.get((subject, key))
        if row is not None:
            return f"{subject} {key} is frozen (case {row.case_id}): {row.reason}"
    return None


def movement_of(r: Any) -> Movement:
    """A stored ``compliance_movements`` row as the rules see it."""
    return Movement(r.id, r.client_id, r.kind, r.asset, int(r.units), r.usd_cents,
                    utc(r.at))  # type: ignore[arg-type]


class Histories:
    """Every batch client's non-blocked movements of the rules' windows, indexed in time order
    (:class:`~keeper.compliance.rules_engine.History`), and the times of those that filed a CTR.

    Given the rules' :class:`~keeper.compliance.rules_engine.Reach`, only the stored movements
    that lie on a window edge of some movement of the batch (times ``t - w`` for every window
    ``w`` and batch time ``t``, and the batch's own span) are read one by one; those between two
    edges are read as one :class:`~keeper.compliance.rules_engine.Summary` per gap, summed by the
    database (every window of the batch holds all of a gap or none of it), so a batch reads a few
    rows however long the client's month has been."""

    def __init__(self, conn: Connection, txs: Sequence[Movement], rules: Reach | None = None) -> None:
        """Read, in one query per chunk of clients (two with ``rules``), what the windows of
        ``txs`` can reach; without ``rules`` every movement is read one by one."""
        self._hist: dict[str, History] = {}
        self._ctr: dict[str, list[datetime]] = {}
        self.rows = 0  # movements read one by one
        if not txs:
            return
        first, until = min(t.at for t in txs), max(t.at for t in txs)
        since = first - HISTORY
        spans = {HISTORY} | {min(timedelta(seconds=w), HISTORY) for w in (rules.windows if rules else ())}
        edges = _merge([(first - s, until - s) for s in spans] + [(first, until)])
        # one index range per edge (since, until] clipped to it: an OR of the edges beside the
        # month's range made SQLite walk every movement of the month to find the few near them
        ranges = [(max(a, since), min(b, until)) for a, b in edges] if rules else [(since, until)]
        for part in _chunks(sorted({t.client_id for t in txs})):
            live = and_(_MOV.c.client_id.in_(part), _MOV.c.verdict != "block",
                        _MOV.c.at > since, _MOV.c.at <= until)
            near = union_all(*[  # the CTR flag found by the database, not the detail shipped
                select(_MOV.c.id, _MOV.c.client_id, _MOV.c.kind, _MOV.c.asset, _MOV.c.units,
                       _MOV.c.usd_cents, _MOV.c.at, _CTR.label("ctr"))
                .where(_MOV.c.client_id.in_(part), _MOV.c.verdict != "block",
                       _MOV.c.at > a if a == since else _MOV.c.at >= a, _MOV.c.at <= b)
                for a, b in ranges if a <= b]).subquery()
            rows = conn.execute(select(near).order_by(near.c.at))
            for r in rows:
                self.rows += 1
                self.add(movement_of(r), bool(r.ctr))
            if rules is not None:
                ctr_since = first - min(timedelta(seconds=max(rules.ctr_windows, default=0)), HISTORY)
                gaps = _gaps(edges)
                summed: list[tuple[str, Summary, datetime | None]] = []
                for client_id in part:
                    got = gap_summaries(conn, client_id, gaps, rules.bands, ctr_since)
                    if got is None:  # totals without a band the rules read: the database sums
                        summed += _summaries(conn, and_(live, _MOV.c.client_id == client_id),
                                             edges, rules, ctr_since)
                    else:
                        summed += [(client_id, s, c) for s, c in got]
                for client_id, summary, ctr_at in summed:
                    self._history(client_id).add(summary)
                    if ctr_at is not None:
                        bisect.insort_right(self._ctr.setdefault(client_id, []), ctr_at)

    def _history(self, client_id: str) -> History:
        if client_id not in self._hist:
            self._hist[client_id] = History(horizon=HISTORY)
        return self._hist[client_id]

    def add(self, m: Movement, ctr_filed: bool) -> None:
        """Record ``m`` (decided, not blocked) after any movement at the same time."""
        self._history(m.client_id).add(m)
        if ctr_filed:
            bisect.insort_right(self._ctr.setdefault(m.client_id, []), m.at)

    def before(self, tx: Movement) -> History:
        """The client's movements as the rules judge ``tx`` against them: windows end at
        ``tx.at`` and reach back at most 31 days."""
        return self._hist.get(tx.client_id) or History(horizon=HISTORY)

    def ctr_within(self, tx: Movement, window: timedelta) -> bool:
        """Whether a movement of the client in ``(tx.at - window, tx.at]`` (and in the last 31
        days) filed a CTR."""
        ats = self._ctr.get(tx.client_id, [])
        i = bisect.bisect_right(ats, tx.at)
        return i > 0 and ats[i - 1] > max(tx.at - window, tx.at - HISTORY)


#: whether a stored movement filed a CTR (the database reads the flag; see :data:`CTR_FILED`)
_CTR = _MOV.c.detail.contains(CTR_FILED, autoescape=True)


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Closed intervals merged where they overlap, in time order."""
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _gaps(edges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The open intervals between consecutive ``edges``."""
    return [(b, a) for (_, b), (a, _) in zip(edges, edges[1:], strict=False)]


def _summaries(conn: Connection, live: Any, edges: list[tuple[datetime, datetime]], rules: Reach,
               ctr_since: datetime) -> Iterable[tuple[str, Summary, datetime | None]]:
    """(client, summary, latest CTR filing) of the stored movements in each gap between
    ``edges`` (the database sums them; a CTR flag is looked for only after ``ctr_since``)."""
    gaps = _gaps(edges)
    if not gaps:
        return
    gap = case(*[(and_(_MOV.c.at > lo, _MOV.c.at < hi), n) for n, (lo, hi) in enumerate(gaps)],
               else_=None)
    bands = sorted(rules.bands)
    inner = select(
        _MOV.c.client_id, _MOV.c.at, _MOV.c.usd_cents, gap.label("gap"),
        case((_MOV.c.kind == "buy", _MOV.c.at), else_=None).label("buy"),
        case((_MOV.c.at > ctr_since, case((_CTR, _MOV.c.at), else_=None)), else_=None).label("ctr"),
        *[case((_MOV.c.usd_cents.between(lo, hi), 1), else_=0).label(f"b{n}")
          for n, (lo, hi) in enumerate(bands)],
    ).where(live).subquery()
    rows = conn.execute(
        select(inner.c.client_id, func.count(), func.sum(inner.c.usd_cents), func.max(inner.c.at),
               func.max(inner.c.buy), func.max(inner.c.ctr),
               *[func.sum(inner.c[f"b{n}"]) for n in range(len(bands))])
        .where(inner.c.gap.is_not(None)).group_by(inner.c.client_id, inner.c.gap))
    for r in rows:
        yield r[0], Summary(utc(r[3]), int(r[1]), int(r[2]),  # type: ignore[arg-type]
                            {b: int(r[6 + n]) for n, b in enumerate(bands)}, utc(r[4])), utc(r[5])


def load_stored(conn: Connection, ids: Iterable[str]) -> dict[str, Any]:
    """``{id: row}`` of the movements among ``ids`` screened before."""
    found: dict[str, Any] = {}
    for part in _chunks(sorted(set(ids))):
        found.update({r.id: r for r in conn.execute(select(_MOV).where(_MOV.c.id.in_(part)))})
    return found
