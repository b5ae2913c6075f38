"""Read-only views of partner custody for operations (the API, the CLI, forensics' labels):
what a partner holds per client from the last verified data, the breaks verification found, and
the sub-accounts' deposit addresses. None of them calls the partner or writes anything."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from keeper.ledger import utc
from keeper.partners import chainscan
from keeper.partners.store import ACCOUNTS, BREAKS, STATE, PartnerStore, now

STALE_AFTER_S = 300.0  # verified data older than this is served marked stale


@dataclass(frozen=True)
class Holding:
    """What the partner holds for a client in one asset, from the last verified data."""

    client_ref: str
    asset: str
    units: int
    address: str
    as_of: datetime | None
    age_s: float | None
    stale: bool


def verified_units(store: PartnerStore, up_to: int | None = None) -> dict[tuple[str, str], int]:
    """(client, asset) -> what verified transactions (mined up to block ``up_to``) left at the
    partner: deposits - withdrawals - the ETH fees the sub-account paid. The same figures as
    the ledger's ``partner:`` omnibus accounts, posted with each verdict."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for r in store.reports("verified"):
        if up_to is None or (r["chain_block"] or 0) <= up_to:
            sign = 1 if r["kind"] == "deposit" else -1
            out[(r["client_ref"], r["asset"])] += sign * int(r["amount"])
            out[(r["client_ref"], "ETH")] -= int(r["fee"])
    return out


def holdings(engine: Engine, partner: str, stale_after_s: float = STALE_AFTER_S) -> list[Holding]:
    """What ``partner`` holds per client and asset from the last verified data, with its age;
    ``stale`` while the partner is unreachable, never synced, or the data older than
    ``stale_after_s``. Writes nothing (it serves a read-only replica, and reads during an
    outage)."""
    store = PartnerStore(engine, partner)
    with engine.connect() as conn:
        state = conn.execute(select(STATE.c.last_ok_at, STATE.c.outage_since)
                             .where(STATE.c.partner == partner)).first()
    as_of = None if state is None or state.last_ok_at is None else utc(state.last_ok_at)
    age = None if as_of is None else max((now() - as_of).total_seconds(), 0.0)
    stale = age is None or age > stale_after_s or (state is not None and state.outage_since is not None)
    verified = verified_units(store)
    return [Holding(client, asset, verified[(client, asset)], address, as_of, age, stale)
            for client, address in sorted(store.accounts().items())
            for asset in chainscan.ASSETS]


@dataclass(frozen=True)
class Break:
    """A mismatch verification raised (kinds: :data:`keeper.partners.BREAK_KINDS`)."""

    id: int
    partner: str
    kind: str
    client_ref: str | None
    tx_hash: str | None
    detail: str
    created_at: datetime


def breaks(engine: Engine, partner: str, *, after_id: int = 0, limit: int = 1000) -> list[Break]:
    """``partner``'s breaks with id above ``after_id``, oldest first, at most ``limit``."""
    q = (select(BREAKS).where(BREAKS.c.partner == partner, BREAKS.c.id > after_id)
         .order_by(BREAKS.c.id).limit(limit))
    with engine.connect() as conn:
        return [Break(r.id, r.partner, r.kind, r.client_ref, r.tx_hash, r.detail, utc(r.created_at))
                for r in conn.execute(q)]


def deposit_addresses(engine: Engine) -> dict[str, str]:
    """Every partner sub-account's deposit address -> ``<partner>:<client>`` (as forensics
    labels them: ``partner:<partner>:<client>``, see
    :meth:`keeper.forensics.AddressLabels.from_compliance`)."""
    with engine.connect() as conn:
        rows = conn.execute(select(ACCOUNTS.c.partner, ACCOUNTS.c.client_ref, ACCOUNTS.c.address)
                            .order_by(ACCOUNTS.c.partner, ACCOUNTS.c.client_ref)).all()
    return {r.address.lower(): f"{r.partner}:{r.client_ref}" for r in rows}
