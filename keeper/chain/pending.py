"""Unconfirmed deposits: vault ``Deposit`` events seen above the follower's cursor, shown to the
client before they are credited, never posted to the ledger.

After each catch-up the follower (:meth:`keeper.chain.Follower.run_until_synced`) runs one
:class:`TipWatcher` pass over the unconfirmed tip (cursor + 1 .. head, at most ``range_size``
blocks): it reads the followed vaults' ``Deposit`` logs with the follower's own checked reader
(log block hashes must match the headers; blooms re-checked against receipts) and *replaces* the
follower's sightings (``chain_sightings``) with what it found, in one transaction of its own
(none when nothing changed):

* a reorg that drops a deposit removes its sighting at the next pass, one that moves it updates
  its block and confirmations; a deposit the follower has credited is at or below the cursor, so
  the pass drops it, and :func:`unconfirmed_deposits` hides it even before that pass (it reads
  the cursor, which moves in the transaction that credits);
* what the follower would not credit to a client is no sighting (one rule,
  :func:`client_sighting`): unconfigured tokens, zero amounts, unknown client references and
  malformed logs (:func:`keeper.chain.events.decode` gives nothing for them);
* a pass that fails (node, database) is logged, alerted once per streak (``unconfirmed_failed``)
  and left for the next run: the confirmed follower committed before it and never waits on it.

``confirmations`` are blocks on top of the deposit's block (the setting's meaning): a deposit is
credited once it has ``required_confirmations`` of them.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, insert, or_, select

from keeper.chain import events as ev
from keeper.chain.models import ChainSighting
from keeper.chain.postings import credited_client
from keeper.chain.reader import Query
from keeper.ledger import Ledger
from keeper.ledger.db import WRITE
from keeper.ledger.domain import utc

if TYPE_CHECKING:
    from keeper.chain.follower import Follower

log = logging.getLogger(__name__)
FAILED_ALERT = "unconfirmed_failed"
MAX_LISTED = 500  # sightings one read returns


@dataclass(frozen=True)
class Sighting:
    """A client's deposit seen on chain, not yet credited."""

    source: str
    client_id: str
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str
    asset: str
    amount: int
    sender: str
    confirmations: int
    required_confirmations: int
    seen_at: datetime


def client_sighting(e: ev.Event, tokens: dict[str, str], refs: dict[str, str],
                    tiers: Container[str] = ()) -> tuple[str, str] | None:
    """``(client id, asset)`` when the follower would credit ``e`` to a client, else None: a
    ``deposit`` of a configured token, of a non-zero amount, naming a registered reference, not
    sent by one of the vault's tier wallets (``tiers``: lower-case addresses; the follower books
    those as internal moves whatever their reference)."""
    if e.kind != "deposit" or e.amount <= 0:
        return None
    asset, client = tokens.get(e.token), credited_client(e, refs, tiers)
    return None if asset is None or client is None else (client, asset)


class TipWatcher:
    """One follower's unconfirmed-deposit pass (see the module doc)."""

    def __init__(self, follower: Follower) -> None:
        self.f = follower
        self.failing_since: str | None = None

    def scan(self) -> int | None:
        """Replace the follower's sightings with the tip's; returns how many, or None when the
        pass failed or the chain moved under its reads (the previous sightings then stay).
        Never raises."""
        if self.f.cfg.confirmations <= 0:
            return 0  # every mined block is confirmed: no tip to watch
        try:
            found = self._scan()
        except Exception as exc:  # noqa: BLE001 - never stops the confirmed follower
            self._failed(exc)
            return None
        self.failing_since = None
        return found

    def _scan(self) -> int | None:
        f, name = self.f, self.f.cfg.name
        state = f.ledger.cursor(name)
        pos = state.position if state else f.cfg.start_block - 1
        head = f.reader.head()
        start = max(pos + 1, head - f.cfg.range_size + 1)
        rows: list[dict] = []
        if start <= head:
            vaults = f.vaults(state)
            read = f._read(start, head, vaults, [Query(vaults, [ev.DEPOSIT])])
            if read is None:
                return None  # the chain moved under the reads: the next pass sees it settled
            deposits = [e for lg in read[0] for e in ev.decode(lg, set(vaults))]
            refs = f.ledger.client_refs() if deposits else {}
            now = datetime.now(UTC)
            for e in deposits:
                who = client_sighting(e, f.tokens, refs, f.tiers)
                if who is not None:
                    rows.append(dict(
                        source=name, client_id=who[0], client_ref=e.client_ref, tx_hash=e.tx_hash,
                        log_index=e.log_index, block_number=e.block_number,
                        block_hash=e.block_hash, asset=who[1], token=e.token,
                        amount=str(e.amount), sender=e.sender, tip=head,
                        required=f.cfg.confirmations, seen_at=now))
        t = ChainSighting.__table__
        key = (t.c.client_id, t.c.block_hash, t.c.log_index, t.c.amount, t.c.tip, t.c.required)
        with f.ledger.engine.connect() as conn:
            stored = set(conn.execute(select(*key).where(t.c.source == name)).tuples())
        if stored == {tuple(r[c.name] for c in key) for r in rows}:
            return len(rows)  # nothing changed since the last pass: no write
        with f.ledger.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(delete(t).where(t.c.source == name))
            if rows:
                conn.execute(insert(t), rows)
        return len(rows)

    def _failed(self, exc: Exception) -> None:
        name = self.f.cfg.name
        log.warning("%s: unconfirmed-deposit pass failed (%s: %s); the next run retries",
                    name, type(exc).__name__, exc)
        if self.failing_since is not None:
            return
        self.failing_since = datetime.now(UTC).isoformat()
        msg = (f"{name}: the unconfirmed-deposit pass failed ({type(exc).__name__}: {exc}); "
               "clients may not see deposits before they are credited")
        try:
            self.f.ledger.raise_alert(FAILED_ALERT, msg, f"{name}:{FAILED_ALERT}:{self.failing_since}")
            self.f._emit([(FAILED_ALERT, msg, "")])
        except Exception:  # noqa: BLE001 - the database may be what is failing
            log.exception("%s: could not record the %s alert", name, FAILED_ALERT)


def unconfirmed_deposits(ledger: Ledger, client_id: str, *, limit: int = MAX_LISTED) -> list[Sighting]:
    """``client_id``'s own sightings not yet credited (above their follower's cursor), oldest
    block first, at most ``limit`` (anyone may deposit naming a client's reference: a flood of
    dust deposits must not make the client's read unbounded)."""
    t = ChainSighting.__table__.c
    with ledger.engine.connect() as conn:
        sources = conn.scalars(select(t.source).where(t.client_id == client_id).distinct()).all()
        above = []
        for source in sources:
            state = ledger.cursor(source)  # credited rows (at or below it) are hidden at once
            above.append(and_(t.source == source,
                              t.block_number > (state.position if state else -1)))
        if not above:
            return []
        rows = conn.execute(select(ChainSighting.__table__)
                            .where(t.client_id == client_id, or_(*above))
                            .order_by(t.block_number, t.log_index, t.id).limit(limit)).all()
    return [Sighting(r.source, r.client_id, r.tx_hash, r.log_index, r.block_number, r.block_hash,
                     r.asset, int(r.amount), r.sender, max(0, r.tip - r.block_number), r.required,
                     utc(r.seen_at)) for r in rows]
