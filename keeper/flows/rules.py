"""The flows' rules in one home: the fee, stablecoin units <-> US cents, and pre-flight checks.

Fee rule: ``fee_cents = ceil(gross_cents * fee_bps / 10_000)`` -- rounded UP to the next cent,
so the bank never collects less than its published rate and a non-zero trade never has a zero
fee. Spec 004 examples: a USD 100,000.00 buy pays USD 250.00 (debited USD 100,250.00); a
50,000 USDC sell credits USD 49,875.00.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Connection, text

from keeper.assets import by_symbol
from keeper.clients import ClientProfile, Limits
from keeper.compliance import ComplianceService, Frozen
from keeper.flows import store
from keeper.flows.store import Refused
from keeper.integrations.corebanking.wire import MAX_CENTS
from keeper.recon import TransactionsHalted, ensure_open_for_business

STABLECOINS = ("USDC", "USDT")
DAY = timedelta(hours=24)


def asset_symbol(asset: object) -> str:
    """The canonical symbol of a custodied asset; anything else is :class:`Refused`."""
    try:
        if not isinstance(asset, str):
            raise ValueError
        return by_symbol(asset).symbol
    except (KeyError, ValueError):
        raise Refused("unsupported_asset", f"unknown asset {str(asset)[:20]!r}") from None


def fee_cents(gross_cents: int, fee_bps: int) -> int:
    """The fee on ``gross_cents`` (see module docstring: rounded up to the cent)."""
    if type(gross_cents) is not int or gross_cents < 0 or type(fee_bps) is not int or fee_bps < 0:
        raise ValueError("fee of non-negative integer cents and basis points")
    return -(-gross_cents * fee_bps // 10_000)


def units_per_cent(asset: str) -> int:
    """Base units of stablecoin ``asset`` worth one US cent (1 USD = 1 coin)."""
    a = by_symbol(asset)
    if a.symbol not in STABLECOINS:
        raise Refused("unsupported_asset", f"{a.symbol} is not a stablecoin this bank trades")
    return 10 ** (a.decimals - 2)


def cents_to_units(asset: str, cents: int) -> int:
    """Stablecoin base units worth ``cents``."""
    return cents * units_per_cent(asset)


MAX_UNITS = 10**30  # far above any custodied amount (10^9 ETH is 10^27 wei), far below overflow


def check_cents(cents: object) -> int:
    """A positive integer of US cents within core banking's bound; else :class:`Refused`."""
    if type(cents) is not int or not 0 < cents <= MAX_CENTS:
        raise Refused("invalid_amount", f"amount must be an integer of cents in 1..{MAX_CENTS}")
    return cents


def check_units(asset: str, units: object) -> int:
    """A positive integer of base units, worth at most core banking's bound for a stablecoin
    and at most :data:`MAX_UNITS` otherwise (screening values every amount in 64-bit cents)."""
    if type(units) is not int or units <= 0:
        raise Refused("invalid_amount", "units must be a positive integer of base units")
    a = by_symbol(asset)
    top = MAX_CENTS * 10 ** (a.decimals - 2) if a.symbol in STABLECOINS else MAX_UNITS
    if units > top:
        raise Refused("invalid_amount", f"units above {top}")
    return units


def units_to_cents(asset: str, units: int) -> int:
    """US cents worth ``units`` of stablecoin; a fraction of a cent is refused."""
    per = units_per_cent(asset)
    if units % per:
        raise Refused("invalid_amount", f"{asset} amount must be whole cents ({per} base units)")
    return units // per


def check_client(compliance: ComplianceService, profile: ClientProfile, today: date) -> None:
    """Account active, KYC current (a client without a KYC date is refused), not frozen;
    raises :class:`Refused` otherwise."""
    if profile.status != "active":
        raise Refused("account_inactive", f"client account is {profile.status}")
    if profile.kyc_valid_until is None or profile.kyc_valid_until < today:
        raise Refused("kyc_expired", f"KYC is not current (valid until {profile.kyc_valid_until})")
    client_id = profile.client_id
    try:
        compliance.check_can_move(client_id)
    except Frozen as exc:
        raise Refused("frozen", str(exc)) from None


def check_breaker(conn: Connection) -> None:
    """The reconciliation circuit breaker, held for ``conn``'s transaction."""
    try:
        ensure_open_for_business(conn, hold=True)
    except TransactionsHalted as exc:
        raise Refused("halted", str(exc)) from None


def serialise_client(conn: Connection, client_id: str) -> None:
    """Serialise limit checks of one client across keepers (PostgreSQL advisory lock for the
    transaction; SQLite write transactions are serialised already)."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(store.fingerprint({"flows": client_id}).encode()[:8], "big") >> 1
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def check_limits(conn: Connection, limits: Limits, client_id: str, kind: str, cents: int,
                 now: datetime) -> None:
    """Single and 24 h limits (:func:`keeper.clients.effective_limits`) of a buy or sell of
    ``cents``; raises :class:`Refused`."""
    if kind == "buy" and cents > limits.buy_single_cents:
        raise Refused("limit_single", f"buy of {cents} cents above the single limit "
                                      f"{limits.buy_single_cents}")
    daily = limits.buy_daily_cents if kind == "buy" else limits.sell_daily_cents
    spent = store.spent_since(conn, client_id, kind, now - DAY)
    if spent + cents > daily:
        raise Refused("limit_daily", f"{kind} of {cents} cents with {spent} in the last 24 h "
                                     f"is above the daily limit {daily}")
