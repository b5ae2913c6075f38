"""The trading desk: a parent order end to end (route, tax lots, audit, best-execution report).

Public surface: :class:`TradingDesk` (``submit``, ``execution``, ``report``, ``report_html``,
``report_pdf``, ``lots``, ``book_executions``, ``book_finished``, ``from_settings``),
:class:`ClientRefusedError` (the client check: jurisdiction from KYC),
:data:`FINISHED`, :data:`LOTS_REFUSED`, :data:`RESTART_LOOKBACK_MS`,
:data:`RESUME_LOOKBACK_MS`; the JSON views :func:`order_view` and :func:`lots_view` (CLI and
API). The CLI is ``python -m keeper.trading``.
"""

from keeper.trading.desk.kyc import ClientRefusedError
from keeper.trading.desk.service import (
    FINISHED,
    LOTS_REFUSED,
    RESTART_LOOKBACK_MS,
    RESUME_LOOKBACK_MS,
    TradingDesk,
)
from keeper.trading.desk.views import lots_view, order_view

__all__ = ["FINISHED", "LOTS_REFUSED", "RESTART_LOOKBACK_MS", "RESUME_LOOKBACK_MS",
           "ClientRefusedError", "TradingDesk", "lots_view", "order_view"]
