"""The tax-lot arithmetic: pure, integer-only, no database.

Every rule of the lots lives here (the book persists what these functions compute):

* **Units.** Quantities are integers in the asset's minor units (satoshi, wei); costs, fees and
  proceeds are integers in US cents (the quote currency of every :data:`~keeper.trading.types.MARKETS`
  pair).
* **Fees** (the client's policy ``fees_in_basis``). On: an acquisition's fee is added to the
  lot's basis, a disposal's fee is deducted from its proceeds. Off: bases are costs only, proceeds
  are gross, and every fee is reported on its own (``fee``) as an expense, never in a gain.
* **Partial lots** (:func:`split`). Taking ``take`` of a lot of ``quantity`` units and ``basis``
  cents gives the part taken ``floor(basis * take / quantity)`` cents; the remainder stays with
  the part that remains, so the parts always sum to the whole. Proceeds are spread over the lots a
  disposal consumes by the same rule, piece after piece (:func:`allocate`): the last piece gets
  what is left, so no cent is lost or created.
* **Methods.** FIFO takes the earliest acquisition first, LIFO the latest, HIFO the highest unit
  basis (``basis / quantity``, compared exactly by cross-multiplication); ties fall back to FIFO
  order. The method in force is the client's policy at the event's time.
* **Locations.** Lots are held per location (wallet, account, venue). A disposal consumes only lots
  of its own location; a transfer moves lots between the client's own locations.
* **Transfers** are not disposals: the lots move with their acquisition time and basis. The
  transfer's ``quantity`` leaves the source; ``fee_quantity`` of it is the network fee, so
  ``quantity - fee_quantity`` arrives. The units that arrive are taken first (by the method), the
  fee's units next; the fee units' basis is carried over to the arriving pieces in proportion to
  their quantity (:func:`allocate`), so a transfer never changes the total basis.
* **Unmatched.** What a disposal or transfer needs beyond the lots at its location is reported as
  unmatched (quantity, and for a disposal its share of the proceeds), never given a basis: the
  gain covers matched pieces only.
* **Holding period.** A piece is long-term when it was held strictly longer than
  ``long_term_after_ms`` (default 365 days of 86,400,000 ms, a fixed duration, not calendar years),
  measured from the original acquisition (transfers keep it).
* **Order of events.** Events apply in the order of :meth:`TaxEvent.key`: time, then acquisitions
  before transfers before disposals at the same millisecond, then reference. Lots are always equal
  to a replay of all events in that order (:func:`replay`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

DAY_MS = 86_400_000
LONG_TERM_AFTER_MS = 365 * DAY_MS
MAX_QUANTITY = 10**40  # minor units: far above any real holding (and refused above it)
MAX_CENTS = 10**20
MAX_TEXT = 200


class Method(StrEnum):
    """Which lots a disposal (or transfer) consumes first."""

    FIFO = "fifo"
    LIFO = "lifo"
    HIFO = "hifo"


class Kind(StrEnum):
    """What an event does to the lots."""

    ACQUIRE = "acquire"
    TRANSFER = "transfer"
    DISPOSE = "dispose"


_RANK = {Kind.ACQUIRE: 0, Kind.TRANSFER: 1, Kind.DISPOSE: 2}


class InvalidEventError(ValueError):
    """The event is malformed (nothing is recorded)."""


@dataclass(frozen=True)
class Policy:
    """A client's lot policy: the method and whether fees go into bases and proceeds."""

    method: Method
    fees_in_basis: bool


@dataclass(frozen=True)
class TaxEvent:
    """One acquisition, disposal or transfer of ``asset`` by a client.

    ``amount``: the cost (acquisition) or gross proceeds (disposal) in cents, 0 for a transfer;
    ``fee`` in cents (acquisition, disposal); ``fee_quantity`` in the asset's minor units
    (transfer); ``location`` is where the lots are (the source of a transfer)."""

    reference: str
    kind: Kind
    asset: str
    quantity: int
    occurred_at: int  # ms since the epoch
    location: str
    amount: int = 0
    fee: int = 0
    to_location: str | None = None
    fee_quantity: int = 0

    def key(self) -> tuple[int, int, str]:
        """The order events apply in (see the module docstring)."""
        return (self.occurred_at, _RANK[self.kind], self.reference)

    def validate(self) -> None:
        """Raise :class:`InvalidEventError` unless every field is in range."""
        if not isinstance(self.kind, Kind):  # a bare string would slip past the ``is`` checks
            raise InvalidEventError("kind must be a Kind")
        for name in ("reference", "asset", "location"):
            text = getattr(self, name)
            if not isinstance(text, str) or not text or len(text) > MAX_TEXT or "\x00" in text:
                raise InvalidEventError(f"{name} must be 1..{MAX_TEXT} characters without NUL")
        ints = {"quantity": MAX_QUANTITY, "fee_quantity": MAX_QUANTITY, "amount": MAX_CENTS,
                "fee": MAX_CENTS, "occurred_at": 10**15}
        for name, top in ints.items():
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < top:
                raise InvalidEventError(f"{name} must be an integer in [0, {top})")
        if self.quantity == 0:
            raise InvalidEventError("quantity must be positive")
        if self.kind is Kind.TRANSFER:
            dest = self.to_location
            if not isinstance(dest, str) or not dest or len(dest) > MAX_TEXT or "\x00" in dest:
                raise InvalidEventError("a transfer needs a destination location")
            if dest == self.location:
                raise InvalidEventError("a transfer moves lots between two different locations")
            if self.fee_quantity >= self.quantity or self.amount or self.fee:
                raise InvalidEventError("a transfer has no cost or proceeds and its fee_quantity is "
                                   "below its quantity")
        elif self.to_location is not None or self.fee_quantity:
            raise InvalidEventError("only a transfer has a destination or a fee_quantity")


@dataclass
class Lot:
    """What remains of one acquisition (``origin``: its reference) at one location."""

    origin: str
    location: str
    acquired_at: int
    quantity: int
    basis: int


@dataclass(frozen=True)
class Piece:
    """Part of a lot consumed by an event: the ``proceeds`` a disposal allots to it and whether
    it was held long-term, or (transfer) the fee basis ``carried`` onto it where it arrives."""

    origin: str
    acquired_at: int
    quantity: int
    basis: int
    proceeds: int = 0
    long_term: bool = False
    carried: int = 0

    @property
    def gain(self) -> int:
        """Proceeds less basis."""
        return self.proceeds - self.basis


@dataclass(frozen=True)
class Outcome:
    """What one event did: for a disposal the realised gain, for a transfer what moved."""

    reference: str
    kind: Kind
    asset: str
    occurred_at: int
    location: str
    quantity: int
    method: Method
    fees_in_basis: bool
    fee: int = 0  # cents (reported as an expense when fees are not in bases)
    proceeds: int = 0  # matched proceeds, net of the fee when fees are in bases
    basis: int = 0  # acquisition: the lot's basis; disposal: the consumed basis
    pieces: tuple[Piece, ...] = ()
    fee_pieces: tuple[Piece, ...] = ()  # transfer: the units that paid the network fee
    unmatched_quantity: int = 0
    unmatched_proceeds: int = 0
    to_location: str | None = None

    def key(self) -> tuple[int, int, str]:
        """The order of the event this is the outcome of (:meth:`TaxEvent.key`)."""
        return (self.occurred_at, _RANK[self.kind], self.reference)

    @property
    def gain(self) -> int:
        """Realised gain of a disposal (matched pieces only)."""
        return self.proceeds - self.basis if self.kind is Kind.DISPOSE else 0

    @property
    def short_gain(self) -> int:
        """The gain of the pieces held short-term."""
        return sum(p.gain for p in self.pieces if not p.long_term) if self.kind is Kind.DISPOSE else 0

    @property
    def long_gain(self) -> int:
        """The gain of the pieces held long-term."""
        return sum(p.gain for p in self.pieces if p.long_term) if self.kind is Kind.DISPOSE else 0


def split(total: int, quantity: int, take: int) -> tuple[int, int]:
    """Split ``total`` cents of ``quantity`` units: (the part of ``take`` units, the remainder).

    The taken part is ``floor(total * take / quantity)``; the remainder stays with what remains,
    so the two always sum to ``total`` (and taking everything takes ``total``)."""
    if not 0 <= take <= quantity or quantity <= 0:
        raise ValueError("take must be within 0..quantity (quantity > 0)")
    taken = total * take // quantity
    return taken, total - taken


def allocate(total: int, quantities: Sequence[int]) -> list[int]:
    """Spread ``total`` over parts of the given quantities, piece after piece by :func:`split`
    (each piece's share of what is still unallocated); the shares sum to ``total`` exactly."""
    left, units, out = total, sum(quantities), []
    for q in quantities:
        share, left = split(left, units, q) if units else (0, left)
        units -= q
        out.append(share)
    if out:
        out[-1] += left  # 0 unless every quantity is 0
    return out


def _fifo(lot: Lot) -> tuple[int, str]:
    return (lot.acquired_at, lot.origin)


def _hifo_cmp(a: Lot, b: Lot) -> int:
    dearer = b.basis * a.quantity - a.basis * b.quantity  # < 0 when a's unit basis is higher
    if dearer:
        return -1 if dearer < 0 else 1
    return -1 if _fifo(a) < _fifo(b) else (1 if _fifo(a) > _fifo(b) else 0)


def ordered(lots: Iterable[Lot], method: Method) -> list[Lot]:
    """``lots`` in the order ``method`` consumes them."""
    if method is Method.FIFO:
        return sorted(lots, key=_fifo)
    if method is Method.LIFO:
        return sorted(lots, key=_fifo, reverse=True)
    return sorted(lots, key=functools.cmp_to_key(_hifo_cmp))


@dataclass
class Holdings:
    """One client's lots of one asset, keyed by (location, origin); ``touched`` records the keys
    changed since it was last cleared (what the book writes back)."""

    lots: dict[tuple[str, str], Lot] = field(default_factory=dict)
    touched: set[tuple[str, str]] = field(default_factory=set)

    def add(self, lot: Lot) -> None:
        """Put ``lot`` in, merging with the same origin already at its location."""
        key = (lot.location, lot.origin)
        have = self.lots.get(key)
        if have is None:
            self.lots[key] = replace(lot)
        else:
            have.quantity += lot.quantity
            have.basis += lot.basis
        self.touched.add(key)

    def take(self, location: str, quantity: int, method: Method) -> tuple[list[Piece], int]:
        """Consume up to ``quantity`` units at ``location`` in ``method``'s order: the pieces
        taken (basis split by :func:`split`) and the quantity there were no lots for."""
        pieces: list[Piece] = []
        need = quantity
        for lot in ordered((x for x in self.lots.values() if x.location == location), method):
            if need == 0:
                break
            n = min(need, lot.quantity)
            basis, lot.basis = split(lot.basis, lot.quantity, n)
            lot.quantity -= n
            need -= n
            pieces.append(Piece(lot.origin, lot.acquired_at, n, basis))
            key = (location, lot.origin)
            self.touched.add(key)
            if lot.quantity == 0:
                del self.lots[key]
        return pieces, need


def apply(holdings: Holdings, event: TaxEvent, policy: Policy,
          long_term_after_ms: int = LONG_TERM_AFTER_MS) -> Outcome:
    """Apply one event to ``holdings`` and return what it did (see the module docstring)."""
    base = Outcome(event.reference, event.kind, event.asset, event.occurred_at, event.location,
                   event.quantity, policy.method, policy.fees_in_basis, fee=event.fee)
    if event.kind is Kind.ACQUIRE:
        basis = event.amount + (event.fee if policy.fees_in_basis else 0)
        holdings.add(Lot(event.reference, event.location, event.occurred_at, event.quantity, basis))
        return replace(base, basis=basis)
    if event.kind is Kind.DISPOSE:
        taken, missing = holdings.take(event.location, event.quantity, policy.method)
        net = event.amount - (event.fee if policy.fees_in_basis else 0)
        shares = allocate(net, [p.quantity for p in taken] + [missing])
        pieces = tuple(replace(p, proceeds=s,
                               long_term=event.occurred_at - p.acquired_at > long_term_after_ms)
                       for p, s in zip(taken, shares, strict=False))
        return replace(base, proceeds=net - shares[-1] if missing else net,
                       basis=sum(p.basis for p in pieces), pieces=pieces,
                       unmatched_quantity=missing, unmatched_proceeds=shares[-1] if missing else 0)
    if event.kind is not Kind.TRANSFER:
        raise InvalidEventError(f"unknown kind {event.kind!r}")
    moving, missing = holdings.take(event.location, event.quantity - event.fee_quantity,
                                    policy.method)
    fee_taken, fee_missing = holdings.take(event.location, event.fee_quantity, policy.method)
    carried = allocate(sum(p.basis for p in fee_taken), [p.quantity for p in moving])
    moved = tuple(replace(p, carried=c) for p, c in zip(moving, carried, strict=True))
    for p in moved:
        holdings.add(Lot(p.origin, str(event.to_location), p.acquired_at, p.quantity,
                         p.basis + p.carried))
    return replace(base, basis=sum(p.basis for p in moved), pieces=moved,
                   fee_pieces=tuple(fee_taken), unmatched_quantity=missing + fee_missing,
                   to_location=event.to_location)


def replay(events: Iterable[TaxEvent], policy_at: Callable[[int], Policy],
           long_term_after_ms: int = LONG_TERM_AFTER_MS) -> tuple[Holdings, list[Outcome]]:
    """Apply ``events`` from nothing in :meth:`TaxEvent.key` order (``policy_at(ms)``: the policy
    in force at an event's time); returns the holdings and every event's outcome."""
    holdings = Holdings()
    outcomes = [apply(holdings, e, policy_at(e.occurred_at), long_term_after_ms)
                for e in sorted(events, key=TaxEvent.key)]
    return holdings, outcomes
