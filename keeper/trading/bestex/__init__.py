"""Best-execution analytics and compliance reports (FR-021, SC-014, SC-017).

Public surface:

* :class:`ExecutionRecord` (with :class:`VenueArrival`, :class:`ExcludedVenue` and routing's
  ``PolicyBlock``): the input; :func:`from_execution` builds it from routing's
  ``Execution``; :func:`record_from_json` / :func:`record_to_json` its strict file form;
* :func:`analyse` -> :class:`OrderReport` (arrival price, VWAP, slippage, fees, venue comparison,
  improvement vs the best single venue, cost of compliance); :func:`summarise` -> per quote
  currency :class:`Summary` over a period (:func:`in_period`), :func:`venue_usage` ->
  :class:`VenueUsage` rows; :func:`fixed` the one display rounding;
* :func:`order_document`, :func:`period_document`, :func:`render_html`, :func:`render_pdf`: the
  compliance reports;
* CLI: ``python -m keeper.trading.bestex order|period``.
"""

from keeper.trading.bestex.analytics import (
    OrderReport,
    Summary,
    VenueRow,
    VenueUsage,
    analyse,
    fixed,
    in_period,
    summarise,
    venue_usage,
)
from keeper.trading.bestex.record import (
    ExcludedVenue,
    ExecutionRecord,
    RecordError,
    VenueArrival,
    from_execution,
    record_from_json,
    record_to_json,
)
from keeper.trading.bestex.render import Document, order_document, period_document, render_html, render_pdf

__all__ = [
    "Document",
    "ExcludedVenue",
    "ExecutionRecord",
    "OrderReport",
    "RecordError",
    "Summary",
    "VenueArrival",
    "VenueRow",
    "VenueUsage",
    "analyse",
    "fixed",
    "from_execution",
    "in_period",
    "order_document",
    "period_document",
    "record_from_json",
    "record_to_json",
    "render_html",
    "render_pdf",
    "summarise",
    "venue_usage",
]
