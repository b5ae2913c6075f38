"""The hot-tier alert: hot holdings worth more than the policy's ceiling (USD 10M) alert once
per crossing, not once per run.

The state (above or not, crossings so far) lives in ``treasury_tier_ceiling``. A run that finds
the hot tier above the ceiling while the state says "below" counts a new crossing and raises
``treasury_hot_ceiling`` with the ref ``treasury_hot_ceiling:<crossing>`` BEFORE committing the
state: the ledger keeps one alert per ref, so a crash between the two neither loses the alert
nor raises it twice. Falling back to or below the ceiling re-arms the alert. A hot asset without
a fresh price makes the check raise :class:`keeper.prices.PriceError` (it cannot be evaluated).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update

from keeper.ledger.db import WRITE
from keeper.prices import PriceError
from keeper.recon.figures import format_cents
from keeper.treasury.tiers.book import AlertFn
from keeper.treasury.tiers.models import CeilingState
from keeper.treasury.tiers.policy import TierPolicy
from keeper.treasury.tiers.view import TierView

CEILING_ALERT = "treasury_hot_ceiling"
C = CeilingState.__table__
SCOPE = "hot"


def check_hot_ceiling(engine: Engine, view: TierView, policy: TierPolicy, alert: AlertFn, *,
                      clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> bool:
    """Compare the hot tier's value with the ceiling; alert on a new crossing. Returns whether
    an alert was raised by this call."""
    blind = [a for a in view.unpriced if view.units(a, "hot")]
    if blind:
        raise PriceError(f"hot tier holds {', '.join(blind)} without a fresh price: its value "
                         "cannot be compared with the ceiling")
    hot, ceiling = view.tier_value_cents["hot"], policy.hot_ceiling_cents
    above = hot > ceiling
    with engine.connect() as conn:
        row = conn.execute(select(C).where(C.c.scope == SCOPE)).first()
    was_above, crossings = (bool(row.above), row.crossings) if row else (False, 0)
    raised = above and not was_above
    if raised:  # alert first (one per ref), then the state: a crash between re-raises nothing
        crossings += 1
        alert(CEILING_ALERT, f"hot tier holds {format_cents(hot)}, above its ceiling of "
              f"{format_cents(ceiling)} (block {view.block}): sweep to cold",
              f"{CEILING_ALERT}:{crossings}")
    if row is not None and was_above == above and not raised:
        return False
    values = dict(above=int(above), crossings=crossings, updated_at=clock())
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if row is None:
            conn.execute(insert(C).values(scope=SCOPE, **values))
        else:
            conn.execute(update(C).where(C.c.scope == SCOPE).values(**values))
    return raised
