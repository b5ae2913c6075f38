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
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from keeper.compliance.models import FreezeRow, MovementRow
from keeper.compliance.risk import AddressRisk
from keeper.compliance.rules_engine import History, Movement
from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.matcher import Decision
from keeper.compliance.screening.screener import Screener

HISTORY = timedelta(days=31)  # the longest window the rules read (R006 baseline: 30 days)
_MOV, _FRZ = MovementRow.__table__, FreezeRow.__table__
_CHUNK = 500  # keys per IN (...) query
#: how a stored movement's ``detail`` (``json.dumps(..., sort_keys=True)``) says it filed a CTR; a
#: string value cannot contain it (its quotes are escaped), so no parse is needed to find it
CTR_FILED = '"ctr_filed": true'


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
    at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
    return Movement(r.id, r.client_id, r.kind, r.asset, int(r.units), r.usd_cents, at)


class Histories:
    """Every batch client's non-blocked movements of the rules' windows, indexed in time order
    (:class:`~keeper.compliance.rules_engine.History`), and the times of those that filed a CTR."""

    def __init__(self, conn: Connection, txs: Sequence[Movement]) -> None:
        """Read, in one query per chunk of clients, what the windows of ``txs`` can reach."""
        self._hist: dict[str, History] = {}
        self._ctr: dict[str, list[datetime]] = {}
        if not txs:
            return
        since = min(t.at for t in txs) - HISTORY
        until = max(t.at for t in txs)
        for part in _chunks(sorted({t.client_id for t in txs})):
            rows = conn.execute(  # the CTR flag found by the database, not the detail shipped
                select(_MOV.c.id, _MOV.c.client_id, _MOV.c.kind, _MOV.c.asset, _MOV.c.units,
                       _MOV.c.usd_cents, _MOV.c.at,
                       _MOV.c.detail.contains(CTR_FILED, autoescape=True).label("ctr"))
                .where(and_(_MOV.c.client_id.in_(part), _MOV.c.verdict != "block",
                            _MOV.c.at > since, _MOV.c.at <= until))
                .order_by(_MOV.c.at)
            )
            for r in rows:
                self.add(movement_of(r), bool(r.ctr))

    def add(self, m: Movement, ctr_filed: bool) -> None:
        """Record ``m`` (decided, not blocked) after any movement at the same time."""
        if m.client_id not in self._hist:
            self._hist[m.client_id] = History(horizon=HISTORY)
        self._hist[m.client_id].add(m)
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


def load_stored(conn: Connection, ids: Iterable[str]) -> dict[str, Any]:
    """``{id: row}`` of the movements among ``ids`` screened before."""
    found: dict[str, Any] = {}
    for part in _chunks(sorted(set(ids))):
        found.update({r.id: r for r in conn.execute(select(_MOV).where(_MOV.c.id.in_(part)))})
    return found
