"""End-of-day GL batch (spec 004 §8.2): the sub-ledger's stablecoin movements of a business
date, rolled up by GL code, balanced, posted to core banking's ``POST /atlas/gl/post-batch``
(idempotent per business date), retried at 1, 5 and 15 minutes, then an ops ticket alert.

Public surface: :class:`GLBatches`, :class:`GLBatchState`, :data:`RETRY_DELAYS_S`, the alert
kinds, the pure builders (:func:`closing`, :func:`build`, :func:`batch_id`) and :func:`upgrade`.
"""

from keeper.gl.entries import GL_ASSETS, LedgerOutOfBalanceError, batch_id, build, closing
from keeper.gl.migrate import upgrade
from keeper.gl.service import (
    FAILED_ALERT,
    REJECTED_ALERT,
    RETRY_DELAYS_S,
    GLBatches,
    GLBatchState,
)

__all__ = ["FAILED_ALERT", "GL_ASSETS", "REJECTED_ALERT", "RETRY_DELAYS_S", "GLBatchState",
           "GLBatches", "LedgerOutOfBalanceError", "batch_id", "build", "closing", "upgrade"]
