"""``/v1/forensics`` for compliance and operations (scope ``ops``): fund-flow tracing over the
keeper's transfer mirror and the anomaly alerts with their forensic chains.

* ``GET /v1/forensics/trace?address=0x..|tx=0x..&direction=out|in|both&depth=N``: the trace
  (:func:`keeper.forensics.trace`) with the compliance lists' labels, the deployment's own
  wallets and the partners' deposit addresses marked; JSON, or ``format=csv|dot`` as a download.
  Bounded as the library bounds it (depth 1..10, fanout, max_nodes); exactly one of ``address``
  (20 bytes) and ``tx`` (32 bytes), each 0x-hex: anything else is 422.
* ``GET /v1/forensics/alerts``: stored anomaly alerts with their full forensic chain, oldest
  first, in cursor pages (``next_cursor``; a cursor minted for another filter is 400).

The handlers only translate: every rule is :mod:`keeper.forensics`'.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, Security
from pydantic import BaseModel

from api.deps import DeploymentDep, EngineDep, get_principal
from api.errors import responses
from keeper.clients import OPS, Principal
from keeper.forensics import MAX_DEPTH, StoredAlert, TraceLimits, known_labels, stored_alerts, trace

router = APIRouter(prefix="/v1/forensics", tags=["forensics"],
                   responses=responses(401, 403, 422))

OpsPrincipal = Annotated[Principal, Security(get_principal, scopes=[OPS])]
ADDRESS = r"^0x[0-9a-fA-F]{40}$"
TX_HASH = r"^0x[0-9a-fA-F]{64}$"
MAX_PAGE = 200
_DEFAULT = TraceLimits()
DOWNLOADS = {"csv": ("text/csv", "to_csv"), "dot": ("text/vnd.graphviz", "to_dot")}


class Direction(StrEnum):
    """Where to follow the value: where it went, where it came from, or both."""

    out = "out"
    in_ = "in"
    both = "both"


class TraceFormat(StrEnum):
    """JSON (default), or a download for investigators: CSV (one row per movement) or GraphViz."""

    json = "json"
    csv = "csv"
    dot = "dot"


class TraceLimitsOut(BaseModel):
    """The bounds the trace ran under."""

    depth: int
    fanout: int
    max_nodes: int
    since: datetime | None
    until: datetime | None


class TraceNodeOut(BaseModel):
    """An address reached: hops from the start and its labels (``sanctioned``, ``mixer``,
    ``own:<name>``, ``partner:<partner>:<client>``, ...)."""

    address: str
    depth: int
    labels: list[str]


class TraceEdgeOut(BaseModel):
    """One mirrored movement followed (``amount`` in the asset's base units, a decimal string)."""

    block_number: int
    block_hash: str
    block_time: datetime
    tx_hash: str
    log_index: int
    asset: str
    token: str | None
    sender: str
    recipient: str
    amount: str


class TraceOut(BaseModel):
    """The trace: addresses, movements, and how many movements or addresses the bounds cut."""

    start: str
    direction: str
    limits: TraceLimitsOut
    truncated: int
    nodes: list[TraceNodeOut]
    edges: list[TraceEdgeOut]


class AlertOut(BaseModel):
    """An anomaly alert with the forensic chain (``evidence``) that explains it."""

    id: int
    detector: str
    subject: str
    event_at: datetime
    detected_at: datetime
    summary: str
    evidence: list[Any]
    raised: bool

    @classmethod
    def of(cls, a: StoredAlert) -> AlertOut:
        """From a stored alert."""
        return cls(id=a.id, detector=a.detector, subject=a.subject, event_at=a.event_at,
                   detected_at=a.detected_at, summary=a.summary, evidence=a.evidence,
                   raised=a.raised)


class AlertPageOut(BaseModel):
    """Oldest first; pass ``next_cursor`` (with the same filter) for the next page."""

    items: list[AlertOut]
    next_cursor: str | None


def encode_cursor(listing: str, after_id: int) -> str:
    """An opaque cursor: the id after which the next page of ``listing`` (the route and its
    filters) starts."""
    raw = json.dumps({"v": 1, "a": after_id, "l": listing}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(listing: str, cursor: str | None) -> int:
    """The id in ``cursor`` (0 without one); 400 unless minted for ``listing``."""
    if cursor is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["a"]
        if data["v"] == 1 and data["l"] == listing and type(after) is int and 0 <= after < 2**63:
            return after
    except (ValueError, TypeError, KeyError, binascii.Error):
        pass
    raise HTTPException(400, "invalid cursor: use the next_cursor of the same listing")


Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/trace", response_model=TraceOut, summary="Trace funds from an address or a tx",
            responses={200: {"content": {t: {"schema": {"type": "string"}}
                                         for t, _ in DOWNLOADS.values()}}})
def get_trace(
    _: OpsPrincipal,
    engine: EngineDep,
    deployment: DeploymentDep,
    address: Annotated[str | None, Query(pattern=ADDRESS, description="start address")] = None,
    tx: Annotated[str | None, Query(pattern=TX_HASH, description="start transaction")] = None,
    direction: Direction = Direction.out,
    depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = _DEFAULT.depth,
    fanout: Annotated[int, Query(ge=1, le=_DEFAULT.fanout,
                                 description="movements followed per address")] = _DEFAULT.fanout,
    max_nodes: Annotated[int, Query(ge=1, le=_DEFAULT.max_nodes)] = _DEFAULT.max_nodes,
    format: TraceFormat = TraceFormat.json,  # noqa: A002 - the query parameter's name
) -> Response:
    """The movements out of / into the start within the bounds, labelled addresses marked."""
    if (address is None) == (tx is None):
        raise HTTPException(422, "give exactly one of address and tx")
    own = {} if deployment is None else deployment.names_by_address()
    result = trace(engine, address or tx or "", known_labels(engine, own), direction=direction.value,
                   limits=TraceLimits(depth, fanout, max_nodes))
    if format is TraceFormat.json:
        return Response(result.to_json(), media_type="application/json")
    media, render = DOWNLOADS[format.value]
    return Response(getattr(result, render)(), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="trace.{format.value}"'})


@router.get("/alerts", response_model=AlertPageOut, responses=responses(400),
            summary="Anomaly alerts with their forensic chains (cursor pages)")
def get_alerts(
    _: OpsPrincipal,
    engine: EngineDep,
    detector: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,64}$")] = None,
    limit: PageSize = 50,
    cursor: Cursor = None,
) -> AlertPageOut:
    """Stored alerts (optionally of one detector), oldest first, ``limit`` per page."""
    listing = f"alerts:{detector or ''}"
    rows = stored_alerts(engine, after_id=decode_cursor(listing, cursor), detector=detector,
                         limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return AlertPageOut(items=[AlertOut.of(a) for a in rows],
                        next_cursor=encode_cursor(listing, rows[-1].id) if more else None)
