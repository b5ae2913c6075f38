"""Treasury pages (role ``treasury``; ``ops`` and ``auditor`` read): tiers per asset with drift
from target as charts, sweeps and their status, reconciliation runs with their breaks, the
circuit breaker, and the follower's lag behind the chain head.

Each section's data is gathered by a plain function (``tiers_section``, ``sweeps``, ``recon``,
``follower_lag``), tested directly. The figures are the domains' own: the tier view of
:mod:`keeper.treasury.tiers` (shares and drift in basis points, its out-of-band rule), the
sweep book, :class:`keeper.recon.BreakBook` (runs, breaks, the breaker), and the follower lag of
``GET /health`` (:func:`api.routes.health.health`). Amounts are integers formatted once, by
:func:`keeper.recon.figures.format_units` / :func:`~keeper.recon.figures.format_cents`.

The one action, resolving a reconciliation break with a note, requires the ``treasury`` role
(the role guard is the authorisation: the book is built with the signed-in officer as its one
resolver); the book refuses an empty note or a break that is not open, changes nothing then,
and audits the resolution (and any resume of transactions) in the same transaction.

Where the tiers come from: ``app.state.treasury_tiers`` when set (a callable returning
``(policy, view)``, e.g. with the BTC wallets wired in), else the deployed vault read through
``settings.rpc_url`` at the follower's block (:func:`keeper.treasury.tiers.view_at`), at most
every :data:`TIERS_TTL_S` seconds (the page says at which block).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Engine, select
from sqlalchemy.exc import NoResultFound

from api.console.charts import Bar, Drift, bar_chart, bps, drift_chart
from api.console.core import audit, engine_of, page_router, render, require
from api.routes.health import FollowerLag, health
from keeper.audit import record_in
from keeper.config import Settings
from keeper.console import AUDITOR, OPS, TREASURY, User
from keeper.deployments import read_deployment
from keeper.ledger import Ledger
from keeper.prices import PriceError
from keeper.recon import BreakBook, BreakRow, ReconError, RunRow, Status, render_html, render_pdf
from keeper.recon.figures import format_cents, format_units
from keeper.recon.models import ReconRun
from keeper.treasury.moves import BPS, TIERS
from keeper.treasury.tiers import Planned, PolicyError, SweepBook, TierPolicy, TierView

router = page_router(prefix="/treasury")
log = logging.getLogger("api.console.treasury")
Reader = Annotated[User, Depends(require(TREASURY, OPS, AUDITOR))]
Officer = Annotated[User, Depends(require(TREASURY))]
TierSource = Callable[[], tuple[TierPolicy, TierView]]
RUNS_SHOWN = 20
SWEEPS_SHOWN = 30
EVENTS_SHOWN = 10
TIERS_TTL_S = 5.0  # the chain's tier view is read at most this often per app


# ---- tiers --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TierRow:
    """One (asset, tier) line of the tier table, display strings."""

    asset: str
    tier: str
    units: str
    value: str
    share: str
    target: str
    drift: str
    out_of_band: bool


@dataclass
class TiersSection:
    """The tier view for display: rows, one bar and one drift chart per asset, mismatches."""

    block: int | None = None
    aum: str = ""
    rows: list[TierRow] = field(default_factory=list)
    charts: list[tuple[str, Markup, Markup]] = field(default_factory=list)
    mismatches: list[dict[str, str]] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    error: str | None = None


def tiers_section(policy: TierPolicy, view: TierView) -> TiersSection:
    """The tier table and charts of ``view`` (shares, targets, drift and the out-of-band rule
    are the view's; the target is the policy's share for the tier)."""
    out = TiersSection(view.block, format_cents(view.aum_cents), unpriced=list(view.unpriced))
    for symbol, a in sorted(view.assets.items()):
        targets = {t.tier: t.share_bps for t in policy.asset(symbol).targets()}
        outside = set(a.out_of_band())
        bars, drifts = [], []
        for t in TIERS:
            value = "n/a (no price)" if a.value_cents is None else format_cents(a.value_cents[t])
            out.rows.append(TierRow(symbol, t, format_units(a.units[t], symbol), value,
                                    bps(a.share_bps[t]), bps(targets[t]),
                                    ("+" if a.drift_bps[t] > 0 else "") + bps(a.drift_bps[t]),
                                    t in outside))
            bars.append(Bar(t, a.share_bps[t], BPS,
                            f"{bps(a.share_bps[t])} (target {bps(targets[t])})"
                            + (" out of band" if t in outside else ""),
                            targets[t], a.band_bps, t in outside))
            drifts.append(Drift(t, a.drift_bps[t], a.band_bps))
        out.charts.append((symbol, bar_chart(f"{symbol}: share of each tier", bars),
                           drift_chart(f"{symbol}: drift from target", drifts)))
    out.mismatches = [{"asset": m.asset, "location": m.location,
                       "ledger": format_units(m.ledger_units, m.asset),
                       "chain": format_units(m.chain_units, m.asset),
                       "difference": format_units(m.difference, m.asset)}
                      for m in view.mismatches]
    return out


class Cached:
    """``source`` read at most once every ``ttl_s`` seconds (threads wait for one read; a
    failed read is not kept)."""

    def __init__(self, source: TierSource, ttl_s: float = TIERS_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.ttl_s, self.clock = source, ttl_s, clock
        self.lock = threading.Lock()
        self.value: tuple[TierPolicy, TierView] | None = None
        self.at = 0.0

    def __call__(self) -> tuple[TierPolicy, TierView]:
        """The last reading if it is fresh enough, else a new one."""
        with self.lock:
            if self.value is None or self.clock() - self.at >= self.ttl_s:
                self.value, self.at = self.source(), self.clock()
            return self.value


def chain_tiers(settings: Settings, engine: Engine, vault: str | None = None) -> TierSource | None:
    """The deployed vault's tiers (``vault``, default the deployment record's) read through
    ``settings.rpc_url`` over one kept connection (None: nothing deployed)."""
    if vault is None:
        deployment = read_deployment(settings.deployments_dir, settings.chain_id)
        vault = None if deployment is None else deployment.vault
    if vault is None:
        return None
    from web3 import HTTPProvider, Web3

    from keeper.chain import ChainReader
    from keeper.treasury.tiers import view_at

    reader = ChainReader(Web3(HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 5})))
    chosen = vault

    def read() -> tuple[TierPolicy, TierView]:
        return view_at(settings, engine, reader, chosen)
    return read


def load_tiers(source: TierSource | None) -> TiersSection:
    """The section from ``source``; what went wrong, said on the page, when it cannot be read:
    the domain's own refusals (policy, prices) in full, anything else (a node down: its
    message may carry the node's URL and API key) by its kind only, the details in the log
    without the message."""
    if source is None:
        return TiersSection(error="no vault is deployed on this chain: no tier view")
    try:
        policy, view = source()
    except (PolicyError, PriceError) as exc:
        return TiersSection(error=f"the tier view could not be read: {exc}")
    except Exception as exc:  # noqa: BLE001 - the page shows every other section regardless
        log.warning("console: the tier view could not be read (%s)", type(exc).__name__)
        return TiersSection(error=f"the tier view could not be read: {type(exc).__name__} "
                                  "(the node or the chain reader failed; see the keeper's health)")
    return tiers_section(policy, view)


# ---- sweeps, reconciliation, follower ------------------------------------------------------------
def sweeps(engine: Engine, limit: int = SWEEPS_SHOWN) -> list[dict[str, str]]:
    """The latest planned tier moves, newest first, for display."""
    rows: list[Planned] = SweepBook(engine).rows()[-limit:]
    return [{"key": r.key, "kind": r.kind, "asset": r.asset, "source": r.source,
             "destination": r.destination, "amount": format_units(r.units, r.asset),
             "status": r.status, "reference": r.reference or r.intent_id or "",
             "why": " ".join(x for x in (r.code, r.reason) if x)} for r in reversed(rows)]


@dataclass
class ReconSection:
    """Runs, the open breaks, one run's breaks, and the circuit breaker."""

    runs: list[RunRow]
    open_breaks: list[BreakRow]
    halted: bool
    events: list[tuple[str, int, str, str, Any]]
    run: RunRow | None = None
    run_breaks: list[BreakRow] = field(default_factory=list)


def latest_runs(engine: Engine, limit: int = RUNS_SHOWN) -> list[RunRow]:
    """The latest reconciliation runs, newest first (the recon package lists no runs yet: the
    ids are read here, each run through :meth:`BreakBook.run`)."""
    with engine.connect() as conn:
        ids = list(conn.scalars(select(ReconRun.id).order_by(ReconRun.id.desc()).limit(limit)))
    book = BreakBook(engine)
    return [book.run(i) for i in ids]


def recon(engine: Engine, run_id: int | None = None) -> ReconSection:
    """The reconciliation section: latest runs, open breaks, the breaker and its latest events,
    and (``run_id``) one run with its breaks as they stand now."""
    book = BreakBook(engine)
    out = ReconSection(latest_runs(engine), book.breaks(status=Status.OPEN), book.halted(),
                       book.breaker_events()[-EVENTS_SHOWN:][::-1])
    if run_id is not None:
        try:
            out.run = book.run(run_id)
        except NoResultFound:
            return out
        out.run_breaks = book.breaks(run_id)
    return out


def break_line(b: BreakRow) -> dict[str, str]:
    """A break for display (the recon report's own formatting of its difference)."""
    from keeper.recon.report import break_rows

    (row,) = break_rows([b])
    return dict(zip(("id", "check", "subject", "difference", "usd", "class", "status", "due",
                     "resolution"), row, strict=True))


def follower_lag(engine: Engine, ledger: Ledger, settings: Settings) -> list[FollowerLag]:
    """Each follower's position and lag behind the node's head (``GET /health``'s figures)."""
    return health(engine, ledger, settings).followers


# ---- pages ------------------------------------------------------------------------------------
def _source(request: Request) -> TierSource | None:
    """``app.state.treasury_tiers`` if wired, else the deployed vault's tiers read through the
    node, kept for :data:`TIERS_TTL_S` seconds per app (a page is a few milliseconds; reading
    every tier wallet is a dozen RPC calls)."""
    state = request.app.state
    given = getattr(state, "treasury_tiers", None)
    if given is not None:
        return given
    settings = state.settings
    deployment = read_deployment(settings.deployments_dir, settings.chain_id)
    vault = None if deployment is None else deployment.vault
    if vault is None:
        return None
    kept = getattr(state, "treasury_chain_tiers", None)
    if kept is None or kept[0] != vault:
        source = chain_tiers(settings, engine_of(request), vault)
        kept = (vault, Cached(source) if source is not None else None)
        state.treasury_chain_tiers = kept
    return kept[1]


def _index(request: Request, user: User, *, done: str | None = None, error: str | None = None,
           status_code: int = 200) -> Response:
    engine = engine_of(request)
    section = recon(engine)
    return render(request, "treasury/index.html", {
        "tiers": load_tiers(_source(request)), "sweeps": sweeps(engine), "recon": section,
        "open_breaks": [break_line(b) for b in section.open_breaks],
        "lag": follower_lag(engine, request.app.state.ledger, request.app.state.settings),
        "can_act": TREASURY in user.roles, "done": done, "error": error}, status_code=status_code)


@router.get("/")
def index(request: Request, user: Reader,
          done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """Breaker, follower lag, tiers with drift, sweeps, reconciliation."""
    return _index(request, user, done="Break resolved." if done == "resolved" else None)


@router.get("/recon/{run_id}")
def run_page(request: Request, user: Reader,
             run_id: Annotated[int, Path(ge=1, lt=2**63)]) -> Response:
    """One reconciliation run: its figure tables and breaks as they stand now."""
    section = recon(engine_of(request), run_id)
    if section.run is None:
        raise HTTPException(404, "no such reconciliation run")
    return render(request, "treasury/run.html", {
        "run": section.run, "breaks": [break_line(b) for b in section.run_breaks]})


@router.get("/recon/{run_id}/report.{fmt}")
def run_report(request: Request, user: Reader, run_id: Annotated[int, Path(ge=1, lt=2**63)],
               fmt: Annotated[str, Path(pattern="^(html|pdf)$")]) -> Response:
    """The run's report (the recon package's renderer), HTML or PDF. Audited."""
    section = recon(engine_of(request), run_id)
    if section.run is None:
        raise HTTPException(404, "no such reconciliation run")
    audit(request, "console.treasury.recon.download", {"run": run_id, "format": fmt})
    if fmt == "pdf":
        return Response(render_pdf(section.run, section.run_breaks), media_type="application/pdf",
                        headers={"Content-Disposition":
                                 f'attachment; filename="recon-{run_id}.pdf"'})
    return Response(render_html(section.run, section.run_breaks),
                    media_type="text/html; charset=utf-8")


@router.post("/breaks/{break_id}/resolve")
def resolve(request: Request, user: Officer, break_id: Annotated[int, Path(ge=1, lt=2**63)],
            note: Annotated[str, Form(max_length=4000)] = "") -> Response:
    """Resolve an open break with a note (the book's rule; refused: 409, nothing changed)."""
    engine = engine_of(request)
    book = BreakBook(engine, resolvers={user.actor}, audit=record_in)
    try:
        book.resolve(break_id, user.actor, note)
    except ReconError as exc:
        return _index(request, user, error=str(exc), status_code=409)
    return RedirectResponse("/console/treasury/?done=resolved", status_code=303)
