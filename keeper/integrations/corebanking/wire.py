"""The core-banking (ATLAS) wire format, in one home for the client and the local service.

Spec 004 §8.2 gives the JSON of the two bank contracts (fiat deposit notification, EOD GL
batch). Their field names are kept exactly; their amounts are not floats: every amount on the
wire is a **decimal string of integer US cents** (``"10000000"`` is USD 100,000.00), parsed by
:func:`cents` and nothing else, so no float ever touches money. GL account codes, currencies and
the ledger's account names are defined here too.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from keeper.ledger import GL_CODES, AccountKind

MAX_CENTS = 10**17  # USD 10^15: far above any balance, far below int64
MAX_UNITS = 10**38  # a crypto leg in base units (the wire's asset_units pattern allows 38 digits)
_CENTS = re.compile(r"(0|[1-9][0-9]{0,37})")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
RESERVE_ASSETS = ("USDC", "USDT")

_GL_PURPOSE = {
    AccountKind.CLIENT: "customers' {asset} held in custody",
    AccountKind.OMNIBUS: "{asset} omnibus wallet",
    AccountKind.FEE: "stablecoin fee revenue",
    AccountKind.SUSPENSE: "unattributed {asset} awaiting investigation",
}
# The GL accounts a batch may post to: the ledger's own GL codes (keeper.ledger.GL_CODES, their
# one home) for each reserve asset, so every line the EOD batch can produce is in the chart.
GL_ACCOUNTS: dict[str, str] = {
    code.format(asset=asset): _GL_PURPOSE[kind].format(asset=asset)
    for asset in RESERVE_ASSETS for kind, code in GL_CODES.items()
}
GL_CURRENCIES = ("USD", "USD-EQUIVALENT")


def cents(value: object, limit: int = MAX_CENTS) -> int:
    """Integer cents from a wire amount: a decimal string of digits only (no sign, no point,
    no exponent, no leading zeros), at most ``limit``. Anything else raises ``ValueError`` --
    including a JSON number, so a float can never become money."""
    if not isinstance(value, str) or not _CENTS.fullmatch(value):
        raise ValueError("amount must be a decimal string of integer cents, e.g. \"12345\"")
    out = int(value)
    if out > limit:
        raise ValueError(f"amount above {limit}")
    return out


def signed_cents(value: object, limit: int = MAX_CENTS) -> int:
    """A signed wire amount (a balance, a movement, a crypto leg): :func:`cents` with an
    optional leading ``-`` (never ``-0``). Core banking may report an overdrawn balance."""
    if isinstance(value, str) and value.startswith("-"):
        out = -cents(value[1:], limit)
        if out == 0:
            raise ValueError("negative zero")
        return out
    return cents(value, limit)


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("amount must be positive")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotifyDeposit(_Strict):
    """``POST {platform}/stablecoin/notify-deposit`` (ATLAS -> platform), spec 004 §8.2."""

    customer_id: str = Field(pattern=ID_PATTERN)
    transaction_id: str = Field(pattern=ID_PATTERN)
    amount: str
    currency: Literal["USD"]
    reference: str = Field(max_length=140)
    timestamp: datetime
    source_account: str = Field(pattern=ID_PATTERN)

    def amount_cents(self) -> int:
        """The deposit in integer cents (validated)."""
        return _positive(cents(self.amount))


class NotifyDepositAnswer(BaseModel):
    """The platform's answer to a deposit notification (spec: accepted)."""

    status: str
    stablecoin_order_id: str | None = None
    estimated_completion: str | None = None


class GLEntry(_Strict):
    """One line of an EOD GL batch: exactly one of ``debit`` / ``credit`` is positive."""

    account: str = Field(max_length=64)
    debit: str
    credit: str
    currency: str = Field(max_length=32)
    description: str = Field(max_length=140)
    reference: str = Field(max_length=64)


class GLBatch(_Strict):
    """``POST /atlas/gl/post-batch`` (platform -> ATLAS), spec 004 §8.2."""

    batch_id: str = Field(pattern=ID_PATTERN)
    posting_date: date
    entries: list[GLEntry] = Field(min_length=2, max_length=10_000)


def gl_problems(batch: GLBatch) -> list[str]:
    """Why ATLAS would reject ``batch`` (empty when it posts): unknown account codes or
    currencies, bad amounts, a line that is not exactly one positive side, and debits != credits
    in any currency."""
    problems: list[str] = []
    totals: dict[str, list[int]] = {}
    for i, e in enumerate(batch.entries):
        if e.account not in GL_ACCOUNTS:
            problems.append(f"entry {i}: unknown GL account {e.account!r}")
        if e.currency not in GL_CURRENCIES:
            problems.append(f"entry {i}: unknown currency {e.currency!r}")
        try:
            dr, cr = cents(e.debit), cents(e.credit)
        except ValueError as exc:
            problems.append(f"entry {i}: {exc}")
            continue
        if (dr == 0) == (cr == 0):
            problems.append(f"entry {i}: exactly one of debit and credit must be positive")
        side = totals.setdefault(e.currency, [0, 0])
        side[0] += dr
        side[1] += cr
    for currency, (dr, cr) in sorted(totals.items()):
        if dr != cr:
            problems.append(f"unbalanced in {currency}: debits {dr} != credits {cr} cents")
        if max(dr, cr) > MAX_CENTS:
            problems.append(f"{currency} total above {MAX_CENTS} cents in one batch")
    return problems


class GLBatchAnswer(BaseModel):
    """ATLAS's answer to a posted batch (spec 004 §8.2)."""

    status: Literal["posted"]
    batch_id: str
    atlas_batch_id: str
    posted_at: datetime


class CustomerIn(_Strict):
    """Open a customer with one USD account (ops / demo: the bank's onboarding)."""

    customer_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=140)


class CustomerOut(BaseModel):
    """A customer, its fiat account and balance (cents)."""

    customer_id: str
    name: str
    account_id: str
    balance: str


class WireIn(_Strict):
    """An incoming wire credited to a customer (ops / demo endpoint). ``earmark`` ``buy``: the
    customer sent it to buy stablecoins, so ATLAS notifies the platform."""

    customer_id: str = Field(pattern=ID_PATTERN)
    amount: str
    reference: str = Field(max_length=140)
    earmark: Literal["buy"] | None = None


class TradeIn(_Strict):
    """A buy's debit or a sell's credit of a customer's fiat, with the trade's crypto leg
    (``asset``, unsigned ``asset_units`` in base units, the sub-ledger ``ledger_transfer_id``)
    so reconciliation can match it. ``fee`` (cents) goes to fee income."""

    customer_id: str = Field(pattern=ID_PATTERN)
    amount: str
    fee: str = "0"
    reference: str = Field(max_length=140)
    asset: Literal["USDC", "USDT"]
    asset_units: str = Field(pattern=r"^(0|[1-9][0-9]{0,37})$")
    ledger_transfer_id: str = Field(pattern=ID_PATTERN)


class ReverseIn(_Strict):
    """Reverse a buy's debit (``POST /atlas/debits/{posting_id}/reverse``): the customer gets
    the debit and its fee back exactly; ``reference`` says why (e.g. the issuer failed)."""

    reference: str = Field(max_length=140)


POSTING_ID_PATTERN = r"^[1-9][0-9]{0,17}$"


class ReserveIn(_Strict):
    """Move fiat between the stablecoin settlement account and the issuer's reserves."""

    amount: str
    reference: str = Field(max_length=140)


class PostingOut(BaseModel):
    """A posted movement: its id, what it did, and the customer's balance after it."""

    posting_id: str
    kind: str
    customer_id: str | None = None
    amount: str
    fee: str = "0"
    balance: str
    posted_at: datetime


class EntryOut(BaseModel):
    """One movement of a customer's fiat account: signed ``amount`` (+ into the account)."""

    id: str
    at: datetime
    kind: str
    amount: str
    asset: str | None = None
    asset_units: str = "0"
    ledger_transfer_id: str | None = None


class Faults(_Strict):
    """Failure injection: ``latency_ms`` on every call; a ``error_rate`` share of calls
    answers 500, decided by a PRNG seeded with ``seed`` (``error_when`` ``before``: nothing
    applied; ``after``: applied, answer lost); ``maintenance``: every call answers 503."""

    latency_ms: int = Field(0, ge=0, le=60_000)
    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    error_when: Literal["before", "after"] = "before"
    maintenance: bool = False
    seed: int = 0
