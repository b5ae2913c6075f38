"""The Safe Transaction Service's delegate routes: ``GET``/``POST /api/v2/delegates/`` and
``DELETE /api/v2/delegates/{delegate_address}/``.

An owner (the delegator) registers a delegate by signing the service's EIP-712 ``Delegate``
message (safe-eth-py's ``TransactionServiceApi.add_delegate``); the delegator or the delegate
removes it the same way (``remove_delegate``). A delegate may then propose through
``POST /api/v2/safes/{address}/multisig-transactions/``; its signature never confirms. The rules
live in :class:`keeper.safetx.SafeDelegates`. As the Safe service answers: a refused addition or
removal (forged signature, delegator not an owner, malformed field) is 400, a removal that finds
nothing 404, a non-checksummed ``delegate_address`` 422 ``{"code": 1, ...}``; an addition is 201
with the delegation. No API key is needed: every change is authorised by a signature.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from eth_utils import is_checksum_address
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response

from api.routes.safe_transactions import (
    BadInputError,
    ServiceDep,
    _address,
    _checksum_error,
    _doc,
    _iso,
    _paged,
    _refused,
    _signature,
)
from keeper.safetx import DelegateRecord, SafeDelegates, SafeTxError
from keeper.safetx.delegates import MAX_LABEL

router = APIRouter(tags=["safe delegates"])


def delegate_json(d: DelegateRecord) -> dict[str, Any]:
    """One delegation as the Safe service renders it (camelCase; never the signature)."""
    return {"safe": d.safe, "delegate": d.delegate, "delegator": d.delegator, "label": d.label,
            "expiryDate": _iso(d.expiry_date)}


def _bad(exc: BadInputError) -> JSONResponse:
    return JSONResponse({exc.field: [str(exc)]}, status_code=400)


def _optional_address(body: dict[str, Any], field: str) -> str | None:
    return None if body.get(field) is None else _address(body, field)


def _label(value: Any, field: str = "label") -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LABEL or not value.isprintable():
        raise BadInputError(field, f"A label of 1-{MAX_LABEL} printable characters is required.")
    return value


def _expiry(body: dict[str, Any]) -> datetime | None:
    value = body.get("expiryDate", body.get("expiry_date"))
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
        # naive means UTC; an offset is converted (the database keeps UTC)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadInputError("expiryDate", "Datetime has wrong format.") from None


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadInputError("nonFieldErrors", "Invalid data. Expected a dictionary.")
    return body


@router.get("/api/v2/delegates/", responses=_doc(200, 400))
def list_delegates(
    request: Request, service: ServiceDep,
    safe: Annotated[str | None, Query()] = None,
    delegate: Annotated[str | None, Query()] = None,
    delegator: Annotated[str | None, Query()] = None,
    label: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    """The delegations matching every filter given (``safe``, ``delegate``, ``delegator``,
    ``label``), paginated as the Safe service pages."""
    filters = {"safe": safe, "delegate": delegate, "delegator": delegator}
    try:
        for field, value in filters.items():
            if value is not None:
                _address(filters, field)
        if label is not None:
            _label(label)
    except BadInputError as exc:
        return _bad(exc)
    count, page = SafeDelegates(service).list(safe=safe, delegate=delegate, delegator=delegator,
                                              label=label, limit=limit, offset=offset)
    return JSONResponse(_paged(request, count, [delegate_json(d) for d in page], limit, offset))


@router.post("/api/v2/delegates/", status_code=201, responses=_doc(201, 400, 503))
def add_delegate(service: ServiceDep,
                 body: Annotated[Any, Body(description="{safe?, delegate, delegator, "
                                                       "signature, label, expiryDate?}")] = None
                 ) -> Response:
    """Register ``delegate`` for ``delegator`` (an owner of ``safe``, or of any Safe served here
    when ``safe`` is null), on the delegator's ``Delegate`` signature; relabels an existing one."""
    try:
        b = _body(body)
        args = {"safe": _optional_address(b, "safe"), "delegate": _address(b, "delegate"),
                "delegator": _address(b, "delegator"), "signature": _signature(b),
                "label": _label(b.get("label")), "expiry_date": _expiry(b)}
    except BadInputError as exc:
        return _bad(exc)
    try:
        record = SafeDelegates(service).add(**args)
    except SafeTxError as exc:
        return _refused(exc)
    return JSONResponse(delegate_json(record), status_code=201)


@router.delete("/api/v2/delegates/{delegate_address}/", status_code=204,
               responses=_doc(204, 400, 404, 422, 503))
def remove_delegate(delegate_address: str, service: ServiceDep,
                    body: Annotated[Any, Body(description="{safe?, delegator, signature}")] = None
                    ) -> Response:
    """Remove ``delegator``'s delegations to ``delegate_address`` (for ``safe`` only when
    given), signed by the delegator or the delegate; 404 when there was none."""
    if not is_checksum_address(delegate_address):
        return _checksum_error(delegate_address)
    try:
        b = _body(body)
        args = {"safe": _optional_address(b, "safe"), "delegator": _address(b, "delegator"),
                "signature": _signature(b)}
    except BadInputError as exc:
        return _bad(exc)
    try:
        gone = SafeDelegates(service).remove(delegate=delegate_address, **args)
    except SafeTxError as exc:
        return _refused(exc)
    return Response(status_code=204 if gone else 404)
