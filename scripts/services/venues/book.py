"""One symbol's order book: resting orders in price-time priority, and the plan of a match.

Matching is split in two so a refused order changes nothing: :meth:`Book.plan` walks the opposite
side without touching it (stopping at the taker's own orders: self-trade prevention), and the engine
applies the plan with :meth:`Book.take` only after it has checked the funds.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from keeper.trading.types import Level, Side


@dataclass
class Resting:
    """An order resting in the book: ``remaining`` base minor units at ``price``."""

    price: int
    seq: int
    order_id: str
    owner: str
    side: Side
    remaining: int

    def key(self) -> tuple[int, int]:
        """Sort key: best price first, then oldest first."""
        return (-self.price if self.side is Side.BUY else self.price, self.seq)


class Book:
    """Bids and asks of one symbol, each best first (then oldest first)."""

    def __init__(self) -> None:
        self._sides: dict[Side, list[Resting]] = {Side.BUY: [], Side.SELL: []}

    def add(self, order: Resting) -> None:
        """Rest ``order`` behind every order at a better or equal price."""
        bisect.insort(self._sides[order.side], order, key=Resting.key)

    def remove(self, order_id: str, side: Side) -> Resting | None:
        """Take ``order_id`` out of the book (None when it is not resting)."""
        rows = self._sides[side]
        for i, row in enumerate(rows):
            if row.order_id == order_id:
                return rows.pop(i)
        return None

    def remove_owner(self, owner: str) -> None:
        """Take every order of ``owner`` out of the book (makers re-quoting)."""
        for side, rows in self._sides.items():
            self._sides[side] = [r for r in rows if r.owner != owner]

    def plan(self, side: Side, amount: int, limit: int | None, owner: str
             ) -> tuple[list[tuple[Resting, int]], bool]:
        """What an incoming ``side`` order of ``amount`` (at most/least ``limit``) would take:
        (resting order, amount) pairs in priority order, and whether it stopped at an order of
        its own ``owner`` (self-trade prevention, "expire taker": the rest of the incoming order
        must not trade or rest past it). Nothing changes."""
        out: list[tuple[Resting, int]] = []
        left = amount
        for row in self._sides[Side.SELL if side is Side.BUY else Side.BUY]:
            if left == 0:
                break
            if limit is not None and (row.price > limit if side is Side.BUY else row.price < limit):
                break
            if row.owner == owner:
                return out, True
            take = min(left, row.remaining)
            out.append((row, take))
            left -= take
        return out, False

    def take(self, row: Resting, amount: int) -> None:
        """Reduce ``row`` by ``amount`` (removing it when it is used up)."""
        if not 0 < amount <= row.remaining:
            raise ValueError("take exceeds the resting amount")
        row.remaining -= amount
        if row.remaining == 0:
            self._sides[row.side].remove(row)

    def levels(self, side: Side, limit: int | None = None) -> tuple[Level, ...]:
        """``side`` aggregated by price, best first (at most ``limit`` levels)."""
        out: list[Level] = []
        for row in self._sides[side]:
            if out and out[-1].price == row.price:
                out[-1] = Level(row.price, out[-1].amount + row.remaining)
                continue
            if limit is not None and len(out) == limit:
                break
            out.append(Level(row.price, row.remaining))
        return tuple(out)

    def resting(self, side: Side) -> list[Resting]:
        """The resting orders of ``side`` (best first); a copy."""
        return list(self._sides[side])
