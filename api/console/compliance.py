"""Compliance pages (role ``compliance``; ``auditor`` reads): alerts, cases with their evidence
and fund-flow trace, decisions, SAR/CTR drafts and their deadlines.

The data of each page is gathered by a plain function over the database (``alerts``,
``cases``, ``case``, ``reports``), tested directly. Every decision goes through
:class:`keeper.compliance.ComplianceService` (assign, evidence, decide, four-eyes approve and
reject, close) or :func:`keeper.compliance.reports.mark_filed`: the rules (which state allows
what, who may approve) are the service's; a refused step raises and changes nothing. The
handlers only translate forms into those calls. Every POST passes the console's CSRF guard and
requires the ``compliance`` role (an auditor reads, never acts).

The compliance package has no read API for cases, reports and proposals yet: the few queries
below read its tables (``keeper.compliance.models``) read-only, in one section, until such
reads move into ``keeper.compliance``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Engine, select

from api.console.charts import amount, flow_graph
from api.console.core import audit, engine_of, page_router, render, require
from api.routes.forensics import ADDRESS, TX_HASH
from keeper.compliance import CaseError, ComplianceService, RuleSet, check_sar_deadlines
from keeper.compliance import reports as sar_reports
from keeper.compliance.models import ApprovalRow, CaseRow, MovementRow, ReportRow
from keeper.config import Settings
from keeper.console import AUDITOR, COMPLIANCE, User
from keeper.deployments import read_deployment
from keeper.forensics import MAX_DEPTH, StoredAlert, Trace, TraceLimits, known_labels, stored_alerts, trace
from keeper.ledger import utc
from keeper.recon.figures import format_cents

router = page_router(prefix="/compliance")
Reader = Annotated[User, Depends(require(COMPLIANCE, AUDITOR))]
Officer = Annotated[User, Depends(require(COMPLIANCE))]
PAGE = 50
FLAGGED_DAYS = 7
CASE_STATUSES = ("open", "decided", "closed")
CONSOLE_TRACE = TraceLimits(depth=2, fanout=10, max_nodes=60)  # the page's default bounds
API_TRACE = TraceLimits()  # the API's ceilings (fanout, max_nodes), also the console's
MAX_TEXT = 2000
_CASE, _MOV, _REP, _APR = (CaseRow.__table__, MovementRow.__table__, ReportRow.__table__,
                           ApprovalRow.__table__)


# ---- reads of the compliance tables (to move into keeper.compliance) ---------------------------
@dataclass(frozen=True)
class CaseSummary:
    """A case as the lists show it."""

    id: int
    client_id: str
    movement_id: str | None
    status: str
    assignee: str | None
    outcome: str | None
    opened_at: datetime


@dataclass(frozen=True)
class ReportSummary:
    """A SAR draft or CTR with its filing deadline."""

    id: int
    kind: str
    client_id: str
    case_id: int | None
    status: str
    created_at: datetime
    due_at: datetime

    def urgency(self, now: datetime) -> str:
        """``overdue``, ``due soon`` (within the deadline job's warning window), or ``""``
        (filed reports have none)."""
        if self.status != "draft":
            return ""
        if self.due_at <= now:
            return "overdue"
        return "due soon" if self.due_at <= now + timedelta(days=sar_reports.WARN_DAYS) else ""


def _case_row(r: Any) -> CaseSummary:
    return CaseSummary(r.id, r.client_id, r.movement_id, r.status, r.assignee, r.outcome,
                       utc(r.opened_at) or datetime.min.replace(tzinfo=UTC))


def cases(engine: Engine, status: str | None = None, *, after_id: int = 0,
          limit: int = PAGE) -> list[CaseSummary]:
    """Cases (of one ``status``) with id above ``after_id``, oldest first (keyset pages)."""
    q = select(_CASE).where(_CASE.c.id > after_id).order_by(_CASE.c.id).limit(limit)
    if status is not None:
        q = q.where(_CASE.c.status == status)
    with engine.connect() as conn:
        return [_case_row(r) for r in conn.execute(q)]


def reports(engine: Engine, *, case_id: int | None = None, drafts_only: bool = False,
            limit: int = PAGE) -> list[ReportSummary]:
    """SAR/CTR reports (of one case; drafts only), the earliest deadline first."""
    q = select(_REP.c.id, _REP.c.kind, _REP.c.client_id, _REP.c.case_id, _REP.c.status,
               _REP.c.created_at, _REP.c.due_at).order_by(_REP.c.due_at, _REP.c.id).limit(limit)
    if case_id is not None:
        q = q.where(_REP.c.case_id == case_id)
    if drafts_only:
        q = q.where(_REP.c.status == "draft")
    with engine.connect() as conn:
        return [ReportSummary(r.id, r.kind, r.client_id, r.case_id, r.status,
                              utc(r.created_at), utc(r.due_at))  # type: ignore[arg-type]
                for r in conn.execute(q)]


def _case_extras(engine: Engine, case_id: int) -> tuple[Any, Any, list[Any]]:
    """The case row, its screened movement row (or None) and its pending proposals."""
    with engine.connect() as conn:
        row = conn.execute(select(_CASE).where(_CASE.c.id == case_id)).first()
        if row is None:
            return None, None, []
        mov = None if row.movement_id is None else conn.execute(
            select(_MOV).where(_MOV.c.id == row.movement_id)).first()
        pending = conn.execute(select(_APR).where(_APR.c.case_id == case_id,
                                                  _APR.c.status == "pending")
                               .order_by(_APR.c.id)).all()
    return row, mov, list(pending)


# ---- the pages' data ---------------------------------------------------------------------------
@dataclass
class Alerts:
    """The alerts page: anomaly alerts, movements flagged by an ``alert`` rule, SARs due."""

    anomalies: list[StoredAlert]
    next_after: int | None
    flagged: list[Any]
    due: list[Any]


def alerts(engine: Engine, rules: RuleSet, now: datetime, *, after_id: int = 0,
           limit: int = PAGE) -> Alerts:
    """Anomaly alerts after ``after_id`` (oldest first, one page), the last
    :data:`FLAGGED_DAYS` days' movements with an alert rule hit, and the SAR drafts the
    deadline job would alert now."""
    rows = stored_alerts(engine, after_id=after_id, limit=limit + 1)
    flagged = ComplianceService(engine, rules).flagged(now - timedelta(days=FLAGGED_DAYS), now)
    due = check_sar_deadlines(engine, now, lambda subject, body: None)
    return Alerts(rows[:limit], rows[limit - 1].id if len(rows) > limit else None, flagged, due)


@dataclass
class CaseView:
    """Everything the case page shows."""

    case: CaseSummary
    steps: list[tuple[str, str, datetime, dict[str, Any]]]
    movement: dict[str, Any] | None
    reports: list[ReportSummary]
    proposals: list[dict[str, Any]]
    starts: list[str]  # addresses / transactions the evidence names (trace starts)
    trace: Trace | None = None
    graph: Markup | None = None
    trace_error: str | None = None
    edges: list[dict[str, str]] = field(default_factory=list)


def trace_starts(movement: dict[str, Any] | None,
                 steps: list[tuple[str, str, datetime, dict[str, Any]]]) -> list[str]:
    """The EVM addresses and transaction hashes named by the case's movement and evidence
    (``address`` / ``tx`` fields), in order, each once."""
    found: list[str] = []
    candidates = [(movement or {}).get("address")]
    candidates += [d.get(k) for _, _, _, d in steps for k in ("address", "tx")]
    for c in candidates:
        if isinstance(c, str) and (re.fullmatch(ADDRESS, c) or re.fullmatch(TX_HASH, c)):
            if c.lower() not in found:
                found.append(c.lower())
    return found


def own_wallets(settings: Settings) -> dict[str, str]:
    """Our deployed contracts (address -> name), labelled ``own:<name>`` in traces."""
    deployment = read_deployment(settings.deployments_dir, settings.chain_id)
    return {} if deployment is None else deployment.names_by_address()


def case(service: ComplianceService, case_id: int, *, own: dict[str, str] | None = None,
         start: str | None = None, direction: str = "both",
         limits: TraceLimits = CONSOLE_TRACE) -> CaseView | None:
    """The case page's data (``None``: no such case): its steps, movement, reports, pending
    proposals and the trace from ``start`` (default: the first address its evidence names),
    labelled like the API's trace (compliance lists, ``own`` wallets, partners)."""
    engine = service.engine
    row, mov, pending = _case_extras(engine, case_id)
    if row is None:
        return None
    steps = service.case_steps(case_id)
    movement = None
    if mov is not None:
        d = json.loads(mov.detail)
        movement = {"id": mov.id, "kind": mov.kind, "asset": mov.asset,
                    "amount": amount(int(mov.units), mov.asset), "value": format_cents(mov.usd_cents),
                    "at": utc(mov.at), "verdict": mov.verdict, "rules_version": mov.rules_version,
                    "reasons": d.get("reasons", []), "address": d.get("address"),
                    "counterparty": d.get("counterparty"), "country": d.get("country")}
    proposals = [{"id": p.id, "action": p.action, "proposed_by": p.proposed_by,
                  "proposed_at": utc(p.proposed_at), "params": json.loads(p.params)}
                 for p in pending]
    view = CaseView(_case_row(row), steps, movement, reports(engine, case_id=case_id),
                    proposals, trace_starts(movement, steps))
    begin = start or (view.starts[0] if view.starts else None)
    if begin is not None:
        try:
            t = trace(engine, begin, known_labels(engine, own or {}), direction=direction,
                      limits=limits)
        except ValueError as exc:
            view.trace_error = str(exc)
        else:
            view.trace, view.graph = t, flow_graph(t, title=f"Fund flow of case {case_id}")
            view.edges = [{"tx": m.tx_hash, "block": str(m.block_number), "from": m.sender,
                           "to": m.recipient, "amount": amount(m.amount, m.asset),
                           "from_labels": ", ".join(t.nodes.get(m.sender, {}).get("labels", [])),
                           "to_labels": ", ".join(t.nodes.get(m.recipient, {}).get("labels", []))}
                          for m in t.edges]
    return view


def close_case(service: ComplianceService, case_id: int, who: str, reason: str) -> str:
    """Close a case with ``reason``: an open case is decided ``confirm`` with the reason as its
    note, then closed; a decided case is closed. Refused (``CaseError``, nothing changed)
    without a reason or when the service refuses. Returns what happened."""
    reason = reason.strip()
    if not reason:
        raise CaseError("a reason is required to close a case")
    row = _case_extras(service.engine, case_id)[0]
    if row is None:
        raise CaseError(f"no case {case_id}")
    if row.status == "open":
        service.decide(case_id, who, "confirm", reason)
    service.close(case_id, who)
    return "closed"


# ---- pages -------------------------------------------------------------------------------------
def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _rules(request: Request) -> RuleSet:
    return RuleSet.load(_settings(request).compliance_rules_file)


def _service(request: Request) -> ComplianceService:
    return ComplianceService(engine_of(request), _rules(request))


DONE = {"assigned": "Case assigned.", "escalated": "Case escalated.", "decided": "Decision recorded.",
        "proposed": "Clearing proposed: a second officer must approve it.",
        "approved": "Proposal approved.", "rejected": "Proposal rejected.", "closed": "Case closed.",
        "filed": "Report marked as filed."}


@router.get("/")
def index(request: Request, user: Reader,
          status: Annotated[str | None, Query(pattern="^(open|decided|closed)$")] = None,
          after: Annotated[int, Query(ge=0, lt=2**63)] = 0) -> Response:
    """Cases (open first by default), the SAR/CTR drafts and their deadlines."""
    engine = engine_of(request)
    now = datetime.now(UTC)
    rows = cases(engine, status or "open", after_id=after, limit=PAGE + 1)
    return render(request, "compliance/index.html", {
        "cases": rows[:PAGE], "status": status or "open", "statuses": CASE_STATUSES,
        "next_after": rows[PAGE - 1].id if len(rows) > PAGE else None,
        "drafts": reports(engine, drafts_only=True), "now": now, "can_act": COMPLIANCE in user.roles})


@router.get("/alerts")
def alerts_page(request: Request, user: Reader,
                after: Annotated[int, Query(ge=0, lt=2**63)] = 0) -> Response:
    """Anomaly alerts, flagged movements and SARs due."""
    data = alerts(engine_of(request), _rules(request), datetime.now(UTC), after_id=after)
    return render(request, "compliance/alerts.html", {"a": data})


@router.get("/cases/{case_id}")
def case_page(
    request: Request, user: Reader, case_id: Annotated[int, Path(ge=1, lt=2**63)],
    start: Annotated[str | None, Query(max_length=66)] = None,
    direction: Annotated[str, Query(pattern="^(out|in|both)$")] = "both",
    depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = CONSOLE_TRACE.depth,
    fanout: Annotated[int, Query(ge=1, le=API_TRACE.fanout)] = CONSOLE_TRACE.fanout,
    max_nodes: Annotated[int, Query(ge=1, le=API_TRACE.max_nodes)] = CONSOLE_TRACE.max_nodes,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """One case: steps and evidence, movement, reports, proposals, the trace graph (from
    ``start``, an address or a transaction, as the API's trace accepts), actions."""
    start = (start or "").strip() or None
    if start is not None and not (re.fullmatch(ADDRESS, start) or re.fullmatch(TX_HASH, start)):
        raise HTTPException(400, "the trace starts at a 0x address (20 bytes) or transaction "
                                 "hash (32 bytes)")
    view = case(_service(request), case_id, own=own_wallets(_settings(request)),
                start=start, direction=direction,
                limits=TraceLimits(depth, fanout, max_nodes))
    if view is None:
        raise HTTPException(404, "no such case")
    return _case_page(request, user, view, done=DONE.get(done or ""), q={
        "direction": direction, "depth": depth, "fanout": fanout, "max_nodes": max_nodes,
        "start": start or ""})


def _case_page(request: Request, user: User, view: CaseView, *, done: str | None = None,
               error: str | None = None, q: dict[str, Any] | None = None,
               status_code: int = 200) -> Response:
    q = q or {"direction": "both", "depth": CONSOLE_TRACE.depth, "fanout": CONSOLE_TRACE.fanout,
              "max_nodes": CONSOLE_TRACE.max_nodes, "start": ""}
    return render(request, "compliance/case.html", {
        "v": view, "done": done, "error": error, "can_act": COMPLIANCE in user.roles,
        "me": user.actor, "now": datetime.now(UTC), "q": q}, status_code=status_code)


def _act(request: Request, user: User, case_id: int, what: str, step: Any) -> Response:
    """Run one service step; on success redirect to the case (303), on refusal show the case
    with the reason (409, nothing changed)."""
    try:
        step()
    except (CaseError, KeyError) as exc:
        view = case(_service(request), case_id, own=own_wallets(_settings(request)))
        if view is None:
            raise HTTPException(404, "no such case") from None
        return _case_page(request, user, view, error=str(exc).strip("'\""), status_code=409)
    return RedirectResponse(f"/console/compliance/cases/{case_id}?done={what}", status_code=303)


Text = Annotated[str, Form(max_length=MAX_TEXT)]  # default "": an empty one is refused below
Login = Annotated[str, Form(max_length=56)]
CaseId = Annotated[int, Path(ge=1, lt=2**63)]


@router.post("/cases/{case_id}/assign")
def assign(request: Request, user: Officer, case_id: CaseId, assignee: Login = "") -> Response:
    """Assign the case (the service refuses unless it is open)."""
    def step() -> None:
        if not assignee.strip():
            raise CaseError("name the officer to assign")
        _service(request).assign(case_id, user.actor, assignee.strip())
    return _act(request, user, case_id, "assigned", step)


@router.post("/cases/{case_id}/escalate")
def escalate(request: Request, user: Officer, case_id: CaseId, to: Login = "",
             reason: Text = "") -> Response:
    """Escalate: the reason attached as evidence, then the case assigned to ``to``."""
    def step() -> None:
        if not reason.strip() or not to.strip():
            raise CaseError("escalating needs the officer escalated to and a reason")
        svc = _service(request)
        svc.add_evidence(case_id, user.actor, {"escalation": reason.strip(), "to": to.strip()})
        svc.assign(case_id, user.actor, to.strip())
    return _act(request, user, case_id, "escalated", step)


@router.post("/cases/{case_id}/decide")
def decide(request: Request, user: Officer, case_id: CaseId,
           outcome: Annotated[str, Form(pattern="^(confirm|clear)$")], note: Text = "") -> Response:
    """Decide: ``confirm`` now; ``clear`` proposed for a second officer (four eyes)."""
    result: list[int | None] = []

    def step() -> None:
        if not note.strip():
            raise CaseError("a note is required for a decision")
        result.append(_service(request).decide(case_id, user.actor, outcome, note.strip()))
    response = _act(request, user, case_id, "decided", step)
    if result and result[0] is not None:
        return RedirectResponse(f"/console/compliance/cases/{case_id}?done=proposed", 303)
    return response


@router.post("/cases/{case_id}/proposals/{proposal_id}")
def proposal(request: Request, user: Officer, case_id: CaseId,
             proposal_id: Annotated[int, Path(ge=1, lt=2**63)],
             verdict: Annotated[str, Form(pattern="^(approve|reject)$")],
             note: Annotated[str, Form(max_length=MAX_TEXT)] = "") -> Response:
    """Approve or reject a four-eyes proposal (the service checks who may)."""
    svc = _service(request)
    if verdict == "approve":
        return _act(request, user, case_id, "approved",
                    lambda: svc.approve(proposal_id, user.actor))
    return _act(request, user, case_id, "rejected",
                lambda: svc.reject(proposal_id, user.actor, note.strip()))


@router.post("/cases/{case_id}/close")
def close(request: Request, user: Officer, case_id: CaseId, reason: Text = "") -> Response:
    """Close with a reason (:func:`close_case`)."""
    return _act(request, user, case_id, "closed",
                lambda: close_case(_service(request), case_id, user.actor, reason))


@router.post("/cases/{case_id}/reports/{report_id}/file")
def file_report(request: Request, user: Officer, case_id: CaseId,
                report_id: Annotated[int, Path(ge=1, lt=2**63)],
                reference: Annotated[str, Form(max_length=120)] = "") -> Response:
    """Record that a draft SAR/CTR of this case was filed, with the regulator's reference."""
    def step() -> None:
        if not reference.strip():
            raise CaseError("the regulator's reference is required")
        if report_id not in {r.id for r in reports(engine_of(request), case_id=case_id)}:
            raise KeyError(f"no report {report_id} in case {case_id}")
        sar_reports.mark_filed(engine_of(request), report_id, user.actor, reference.strip())
    return _act(request, user, case_id, "filed", step)


@router.get("/reports/{report_id}.{fmt}")
def report_download(request: Request, user: Reader,
                    report_id: Annotated[int, Path(ge=1, lt=2**63)],
                    fmt: Annotated[str, Path(pattern="^(html|pdf)$")]) -> Response:
    """A SAR/CTR draft as HTML or PDF (the compliance package's renderer). Audited."""
    try:
        body = sar_reports.load(engine_of(request), report_id)
    except KeyError:
        raise HTTPException(404, "no such report") from None
    audit(request, "console.compliance.report.download", {"report": report_id, "format": fmt})
    if fmt == "pdf":
        return Response(sar_reports.render_pdf(body), media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{body["kind"].lower()}-{report_id}.pdf"'})
    return Response(sar_reports.render_html(body), media_type="text/html; charset=utf-8")
