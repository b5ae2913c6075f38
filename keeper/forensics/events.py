"""The anomaly pipeline's event stream: one normalised :class:`Event` shape over three sources.

Like rotki's event normalisation, every source's records become the same small record (who, what,
how much, between which addresses, when) so each detector is written once:

* :class:`ChainSource` (``chain``): the transfer mirror (:mod:`keeper.forensics.mirror`), one
  ``transfer`` per movement; ``actor`` the sender address; time = the block's timestamp.
* :class:`LedgerSource` (``ledger``): the sub-ledger's posted client deposits
  (:func:`keeper.ledger.client_credits_after`), one ``deposit`` each; ``actor`` the client.
* :class:`AuditSource` (``audit``): the audit trail (:func:`keeper.audit.export`, read from the
  cursor on): order creations (``flows.order.create``: ``withdrawal`` with its destination,
  ``movement`` for buys, sells and on-us transfers; ``actor`` the client), signing requests
  (``safetx.propose`` / ``safetx.confirm``: ``signing``; ``actor`` the signer) and API use
  (``api.*``: ``login`` for a successful ``POST /oauth/token``, ``auth_failed`` for any 401,
  else ``api``; ``actor`` the authenticated client or ``anonymous``). Time = the record's.

Each source reads *after* a sequence number (its cursor, kept by the pipeline) and returns
``(seq, event)`` pairs in order. Event keys are unique across sources and stable across reorgs
of the mirror (a transfer is keyed by transaction and log index, not block).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from keeper.audit import export, unbatch
from keeper.forensics.mirror import Movement, stored_transfers
from keeper.ledger import client_credits_after

KINDS = ("transfer", "deposit", "withdrawal", "movement", "signing", "login", "auth_failed", "api")


@dataclass(frozen=True, slots=True)
class Event:
    """One normalised event. ``amount`` in base units of ``asset`` (0 when none)."""

    source: str
    key: str
    at: datetime
    kind: str
    actor: str
    asset: str = ""
    amount: int = 0
    sender: str = ""
    recipient: str = ""
    ref: str = ""

    def brief(self) -> dict[str, Any]:
        """The event as evidence (JSON-able; amounts as decimal strings)."""
        out: dict[str, Any] = {"key": self.key, "at": self.at.isoformat(), "kind": self.kind,
                               "actor": self.actor}
        for name in ("asset", "sender", "recipient", "ref"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.amount:
            out["amount"] = str(self.amount)
        return out


class Source(Protocol):
    """An event source read after a cursor."""

    name: str

    def read(self, after: int, limit: int) -> list[tuple[int, Event]]:
        """Up to ``limit`` events with sequence number above ``after``, in order."""
        ...


def transfer_event(m: Movement) -> Event:
    """A mirrored movement as an event."""
    return Event("chain", f"chain:{m.tx_hash}:{m.log_index}", m.block_time, "transfer",
                 m.sender, m.asset, m.amount, m.sender, m.recipient, m.tx_hash)


class ChainSource:
    """The transfer mirror's rows (sequence: the row id)."""

    name = "chain"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def read(self, after: int, limit: int) -> list[tuple[int, Event]]:
        """See :class:`Source`."""
        with self.engine.connect() as conn:
            return [(seq, transfer_event(m)) for seq, m in stored_transfers(conn, after, limit)]


class LedgerSource:
    """Posted client deposits of the sub-ledger (sequence: the journal row id)."""

    name = "ledger"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def read(self, after: int, limit: int) -> list[tuple[int, Event]]:
        """See :class:`Source`."""
        return [(p.seq, Event("ledger", f"ledger:{p.transfer_id}", p.created_at, "deposit",
                              client, p.asset, p.amount, ref=p.transfer_id))
                for client, p in client_credits_after(self.engine, after, limit=limit)]


class _Enough(Exception):  # noqa: N818 - internal stop signal of a bounded export
    pass


class _Lines(io.TextIOBase):
    """A text sink keeping at most ``limit`` lines (then stops the export)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.lines = limit, []  # type: ignore[var-annotated]

    def write(self, s: str) -> int:  # type: ignore[override]
        self.lines.append(s)
        if len(self.lines) >= self.limit:
            raise _Enough
        return len(s)


class AuditSource:
    """The audit trail (sequence: the record's position in the hash chain)."""

    name = "audit"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def read(self, after: int, limit: int) -> list[tuple[int, Event]]:
        """See :class:`Source`. Records that are not events (jobs, postings, ...) advance the
        cursor without producing one (returned with an empty ``kind``: the pipeline skips
        them)."""
        sink = _Lines(max(limit, 1))
        try:
            export(self.engine, sink, start=after + 1)
        except _Enough:
            pass
        out: list[tuple[int, Event]] = []
        for line in sink.lines:
            envelope = json.loads(line)
            seq = int(envelope["seq"])
            record = envelope["record"]
            events = [e for i, r in enumerate(unbatch(record)) if (e := audit_event(seq, i, r))]
            out += [(seq, e) for e in events] or [(seq, _SKIP)]
        return out


_SKIP = Event("audit", "", datetime.min.replace(tzinfo=UTC), "", "")


def audit_event(seq: int, item: int, record: dict[str, Any]) -> Event | None:
    """The event of one audit record (``None`` when it is not one the detectors read)."""
    op = str(record.get("operation", ""))
    actor = str(record.get("actor", ""))
    try:
        at = datetime.fromisoformat(str(record["at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    key = f"audit:{seq}.{item}"
    params = record.get("params") if isinstance(record.get("params"), dict) else {}
    result = record.get("result") if isinstance(record.get("result"), dict) else {}
    if op == "flows.order.create":
        kind = str(result.get("kind", ""))
        data = result.get("data") if isinstance(result.get("data"), dict) else {}
        client, asset = str(result.get("client_id", "")), str(result.get("asset", ""))
        try:
            units = int(str(result.get("units", "0")))
        except ValueError:
            return None
        if kind == "withdraw":
            return Event("audit", key, at, "withdrawal", client, asset, units,
                         recipient=str(data.get("to", "")).lower(),
                         ref=str(result.get("order_id", "")))
        return Event("audit", key, at, "movement", client, asset, units,
                     ref=str(result.get("order_id", "")))
    if op in ("safetx.propose", "safetx.confirm"):
        return Event("audit", key, at, "signing", actor, ref=str(params.get("safe_tx_hash", "")),
                     recipient=str(params.get("to", "")).lower())
    if op.startswith("api."):
        status = result.get("status")
        if status == 401:
            return Event("audit", key, at, "auth_failed", actor, ref=op)
        if op == "api.POST /oauth/token" and status == 200:
            return Event("audit", key, at, "login", actor, ref=op)
        return Event("audit", key, at, "api", actor, ref=op)
    return None
