"""Safe Transaction Service-compatible routes: a signer's Safe tooling works against our multisigs.

Paths, camelCase JSON, status codes and error bodies are the Safe service's (its clients parse
them): a refused proposal is 422 ``{"nonFieldErrors": [...]}``, a refused confirmation or
deletion 400, an unknown Safe or transaction 404, a non-checksummed address 422 ``{"code": 1,
...}``. No API key is needed: what mutates is checked by owner signatures (``keeper.safetx``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from eth_utils import is_checksum_address
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from keeper.keys.eth import SafeTx
from keeper.safetx import (
    ConfirmationRefused,
    DelegateRefused,
    DeleteRefused,
    Proposal,
    ProposalRefused,
    SafeChain,
    SafeTxError,
    SafeTxService,
    SafeUnavailable,
    UnknownSafe,
    UnknownTransaction,
)
from keeper.safetx.store import ConfirmationRecord, TxRecord

router = APIRouter(tags=["safe transactions"])
ZERO = "0x" + "00" * 20
UINT256_MAX = 2**256 - 1
MAX_SIGNATURE_BYTES = 5_000
STATUS = {UnknownSafe: 404, UnknownTransaction: 404, ProposalRefused: 422,
          ConfirmationRefused: 400, DeleteRefused: 400, DelegateRefused: 400,
          SafeUnavailable: 503}
JSON_ANY = {"application/json": {"schema": {"type": "object"}}}


def _doc(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"description": "Safe Transaction Service body", "content": JSON_ANY}
            for s in statuses}


def get_safetx(request: Request) -> SafeTxService:
    """The app's one ``SafeTxService`` (built on first use from the app's settings)."""
    service = getattr(request.app.state, "safetx", None)
    if service is None:
        settings = request.app.state.settings
        service = SafeTxService(request.app.state.engine,
                                SafeChain(settings.rpc_url, settings.chain_id))
        request.app.state.safetx = service
    return service


ServiceDep = Annotated[SafeTxService, Depends(get_safetx)]


class BadInputError(ValueError):
    """A malformed field: ``field`` names it as the Safe service would."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _refused(exc: SafeTxError) -> JSONResponse:
    status = STATUS.get(type(exc), 400)
    if status == 404:
        return JSONResponse({"detail": str(exc)}, status_code=404)
    if status == 503:
        return JSONResponse({"detail": "the chain cannot be read now; retry"}, status_code=503)
    key = "signature" if isinstance(exc, ConfirmationRefused) else "nonFieldErrors"
    return JSONResponse({key: [str(exc)]}, status_code=status)


def _checksum_error(address: str) -> JSONResponse:
    return JSONResponse({"code": 1, "message": "Checksum address validation failed",
                         "arguments": [address]}, status_code=422)


# ------------------------------------------------------------------- parsing
def _uint(body: dict[str, Any], field: str, default: int | None = None,
          limit: int = UINT256_MAX) -> int:
    value = body.get(field, default)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise BadInputError(field, "A valid integer is required.")
    return value


def _address(body: dict[str, Any], field: str, *, nullable: bool = False) -> str:
    value = body.get(field)
    if value is None and nullable:
        return ZERO
    if not isinstance(value, str) or not is_checksum_address(value):
        raise BadInputError(field, f"Address {value!r} is not checksumed")
    return value


def _hex(value: Any, field: str, *, nullable: bool = True, max_bytes: int | None = None) -> bytes:
    if value is None and nullable:
        return b""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise BadInputError(field, "A 0x-prefixed hexadecimal value is required.")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise BadInputError(field, "A 0x-prefixed hexadecimal value is required.") from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise BadInputError(field, f"Ensure this field has no more than {max_bytes} bytes.")
    return raw


def _proposal(safe: str, body: Any) -> Proposal:
    if not isinstance(body, dict):
        raise BadInputError("nonFieldErrors", "Invalid data. Expected a dictionary.")
    operation = _uint(body, "operation", limit=1)
    tx = SafeTx(_address(body, "to"), _uint(body, "value"),
                _hex(body.get("data"), "data", max_bytes=128 * 1024), operation,
                _uint(body, "safeTxGas"), _uint(body, "baseGas"), _uint(body, "gasPrice"),
                _address(body, "gasToken", nullable=True),
                _address(body, "refundReceiver", nullable=True), _uint(body, "nonce"))
    digest = _hex(body.get("contractTransactionHash"), "contractTransactionHash", nullable=False)
    if len(digest) != 32:
        raise BadInputError("contractTransactionHash", "A 32-byte hash is required.")
    signature = _hex(body.get("signature"), "signature", max_bytes=MAX_SIGNATURE_BYTES)
    if signature and len(signature) < 65:
        raise BadInputError("signature", "Ensure this field has at least 65 bytes.")
    origin = body.get("origin") or ""
    if not isinstance(origin, str) or len(origin) > 200:
        raise BadInputError("origin", "Ensure this field has no more than 200 characters.")
    if "\x00" in origin:  # PostgreSQL text cannot hold it: refused, not a 500
        raise BadInputError("origin", "Null characters are not allowed.")
    return Proposal(safe, tx, digest, _address(body, "sender"), signature or None, origin)


def _signature(body: Any) -> bytes:
    raw = _hex(body.get("signature") if isinstance(body, dict) else None, "signature",
               nullable=False, max_bytes=MAX_SIGNATURE_BYTES)
    if len(raw) < 65:
        raise BadInputError("signature", "Ensure this field has at least 65 bytes.")
    return raw


def _safe_tx_hash(value: str) -> str | None:
    if len(value) == 66 and value.startswith("0x"):
        try:
            bytes.fromhex(value[2:])
            return value.lower()
        except ValueError:
            return None
    return None


# ----------------------------------------------------------------- rendering
def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _hex_or_none(raw: bytes | None) -> str | None:
    return "0x" + raw.hex() if raw else None


def confirmation_json(c: ConfirmationRecord) -> dict[str, Any]:
    """One confirmation as the Safe service renders it."""
    return {"owner": c.owner, "submissionDate": _iso(c.submission_date), "transactionHash": None,
            "signature": "0x" + c.signature.hex(), "signatureType": c.signature_type}


def transaction_json(rec: TxRecord) -> dict[str, Any]:
    """One transaction in the Safe service's v2 shape (plus ``strongroomStatus`` / ``Note``)."""
    tx = rec.tx
    return {
        "safe": rec.safe, "to": tx.to, "value": str(tx.value), "data": _hex_or_none(tx.data),
        "operation": tx.operation, "gasToken": tx.gas_token, "safeTxGas": str(tx.safe_tx_gas),
        "baseGas": str(tx.base_gas), "gasPrice": str(tx.gas_price),
        "refundReceiver": tx.refund_receiver, "nonce": str(tx.nonce),
        "executionDate": _iso(rec.execution_date), "submissionDate": _iso(rec.submission_date),
        "modified": _iso(rec.modified), "blockNumber": rec.block_number,
        "transactionHash": rec.transaction_hash if rec.executed else None,
        "safeTxHash": rec.safe_tx_hash, "proposer": rec.proposer,
        "proposedByDelegate": rec.proposed_by_delegate,
        "executor": rec.executor if rec.executed else None, "isExecuted": rec.executed,
        "isSuccessful": rec.is_successful if rec.executed else None, "ethGasPrice": None,
        "maxFeePerGas": None, "maxPriorityFeePerGas": None, "gasUsed": None, "fee": None,
        "payment": None, "origin": rec.origin, "dataDecoded": None,
        "confirmationsRequired": rec.confirmations_required,
        "confirmations": [confirmation_json(c) for c in rec.confirmations], "trusted": True,
        "signatures": _hex_or_none(rec.signatures) if rec.executed else None,
        "strongroomStatus": rec.status, "strongroomNote": rec.note,
    }


def _page_url(request: Request, limit: int, offset: int) -> str:
    return str(request.url.include_query_params(limit=limit, offset=offset))


def _paged(request: Request, count: int, results: list[Any], limit: int,
           offset: int) -> dict[str, Any]:
    nxt = _page_url(request, limit, offset + limit) if offset + limit < count else None
    prev = _page_url(request, limit, max(0, offset - limit)) if offset > 0 else None
    return {"count": count, "next": nxt, "previous": prev, "results": results}


def _bool(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise BadInputError("executed", "Enter a valid boolean.")


def _signed(safe_tx_hash: str, body: Any, action: Callable[[str, bytes], object]
            ) -> Response | None:
    """Run ``action(hash, signature)`` for a signed request; the refusal's response, or None."""
    h = _safe_tx_hash(safe_tx_hash)
    try:
        if h is None:
            raise UnknownTransaction("Not found.")
        action(h, _signature(body))
    except BadInputError as exc:
        return JSONResponse({exc.field: [str(exc)]}, status_code=400)
    except SafeTxError as exc:
        return _refused(exc)
    return None


# -------------------------------------------------------------------- routes
@router.get("/api/v1/safes/{address}/", responses=_doc(200, 404, 422, 503))
def safe_info(address: str, service: ServiceDep) -> Response:
    """Nonce, threshold, owners and version of a multisig served here (Safe service v1)."""
    if not is_checksum_address(address):
        return _checksum_error(address)
    try:
        s = service.safe_info(address)
    except SafeTxError as exc:
        return _refused(exc)
    return JSONResponse({"address": s.address, "nonce": str(s.nonce), "threshold": s.threshold,
                         "owners": list(s.owners), "masterCopy": s.address, "modules": [],
                         "fallbackHandler": ZERO, "guard": ZERO, "moduleGuard": ZERO,
                         "version": s.version})


@router.post("/api/v2/safes/{address}/multisig-transactions/", status_code=201,
             responses=_doc(201, 404, 422, 503))
def propose(address: str, service: ServiceDep,
            body: Annotated[Any, Body(description="the Safe service's proposal")] = None
            ) -> Response:
    """Propose a SafeTx signed by its sender (an owner, or a delegate whose one signature does
    not confirm); 201 when stored or re-signed."""
    if not is_checksum_address(address):
        return _checksum_error(address)
    try:
        proposal = _proposal(address, body)
    except BadInputError as exc:
        return JSONResponse({exc.field: [str(exc)]}, status_code=422)
    try:
        service.propose(proposal)
    except SafeTxError as exc:
        return _refused(exc)
    return Response(status_code=201)


@router.get("/api/v2/safes/{address}/multisig-transactions/", responses=_doc(200, 400, 404, 422))
def list_transactions(
    request: Request, address: str, service: ServiceDep,
    executed: Annotated[str | None, Query()] = None,
    nonce__gte: Annotated[str | None, Query()] = None,  # noqa: N803 - the Safe service's name
    ordering: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    """A Safe's transactions, newest nonce first (``executed``, ``nonce__gte``, ``ordering``)."""
    if not is_checksum_address(address):
        return _checksum_error(address)
    try:
        done = _bool(executed)
        min_nonce = None if nonce__gte in (None, "") else _uint({"n": nonce__gte}, "n",
                                                                limit=2**63 - 1)
    except BadInputError as exc:
        return JSONResponse({exc.field if exc.field != "n" else "nonce__gte": [str(exc)]},
                            status_code=400)
    order = ordering if ordering and ordering.lstrip("-") in ("nonce", "created",
                                                               "modified") else None
    try:
        count, page, unique = service.list(address, executed=done, nonce_gte=min_nonce,
                                           ordering=order, limit=limit, offset=offset)
    except SafeTxError as exc:
        return _refused(exc)
    body = _paged(request, count, [transaction_json(r) for r in page], limit, offset)
    body["countUniqueNonce"] = unique
    return JSONResponse(body)


@router.get("/api/v2/multisig-transactions/{safe_tx_hash}/", responses=_doc(200, 404))
def get_transaction(safe_tx_hash: str, service: ServiceDep) -> Response:
    """One transaction by its safeTxHash."""
    h = _safe_tx_hash(safe_tx_hash)
    try:
        if h is None:
            raise UnknownTransaction("Not found.")
        return JSONResponse(transaction_json(service.get(h)))
    except SafeTxError as exc:
        return _refused(exc)


@router.delete("/api/v2/multisig-transactions/{safe_tx_hash}/", status_code=204,
               responses=_doc(204, 400, 404, 503))
def delete_transaction(safe_tx_hash: str, service: ServiceDep,
                       body: Annotated[Any, Body(description="{safeTxHash, signature}")] = None
                       ) -> Response:
    """Delete a transaction not executed, signed by its proposer (``DeleteRequest``, EIP-712)."""
    return _signed(safe_tx_hash, body, service.delete) or Response(status_code=204)


@router.get("/api/v1/multisig-transactions/{safe_tx_hash}/confirmations/",
            responses=_doc(200, 400, 404))
def list_confirmations(
    request: Request, safe_tx_hash: str, service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    """The confirmations of one transaction."""
    h = _safe_tx_hash(safe_tx_hash)
    try:
        if h is None:
            raise UnknownTransaction("Not found.")
        confs = service.get(h).confirmations
    except SafeTxError as exc:
        return _refused(exc)
    page = [confirmation_json(c) for c in confs[offset:offset + limit]]
    return JSONResponse(_paged(request, len(confs), page, limit, offset))


@router.post("/api/v1/multisig-transactions/{safe_tx_hash}/confirmations/", status_code=201,
             responses=_doc(201, 400, 404, 503))
def confirm(safe_tx_hash: str, service: ServiceDep,
            body: Annotated[Any, Body(description="{signature}")] = None) -> Response:
    """Add owner signatures to a pending transaction."""
    return _signed(safe_tx_hash, body, service.confirm) or JSONResponse(
        {"signature": body["signature"]}, status_code=201)
