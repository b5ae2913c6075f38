"""Per-client tax lots (FR-020, SC-016): FIFO, LIFO or HIFO per client, fees in the cost basis or
not, partial lots, transfers between the client's own locations that are not disposals,
unmatched disposals reported (never given a basis), realised and unrealised gains.

* :mod:`.engine`: the arithmetic and every rule (units, split rule, methods, transfers, holding
  period, event order), pure;
* :class:`TaxLotBook`: the persisted book (``trading_taxlots_*``), idempotent and replay-equal;
  :meth:`TaxLotBook.record_fill` takes routing's :class:`~keeper.trading.types.Fill`;
* :mod:`.reports`: realised and unrealised reports per client and period (JSON, CSV);
* ``python -m keeper.trading.taxlots``: show lots, set a client's method, print a report.
"""

from keeper.trading.taxlots import reports  # noqa: E402  (after the book it reads)
from keeper.trading.taxlots.book import (
    DEFAULT_LOCATION,
    EventConflictError,
    PolicyChange,
    Recorded,
    TaxLotBook,
)
from keeper.trading.taxlots.engine import (
    LONG_TERM_AFTER_MS,
    InvalidEventError,
    Kind,
    Lot,
    Method,
    Outcome,
    Piece,
    Policy,
    TaxEvent,
    allocate,
    replay,
    split,
)

__all__ = ["DEFAULT_LOCATION", "LONG_TERM_AFTER_MS", "EventConflictError", "InvalidEventError",
           "Kind", "Lot", "Method", "Outcome", "Piece", "Policy", "PolicyChange", "Recorded",
           "TaxEvent", "TaxLotBook", "allocate", "replay", "reports", "split"]
