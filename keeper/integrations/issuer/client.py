"""HTTP client of the issuer API (httpx): timeouts, retries with backoff, typed errors.

Every call is retried on transport errors, timeouts, 429 and 5xx: GETs are safe to repeat and
every POST carries a caller-chosen ``Idempotency-Key`` that is sent unchanged on each attempt, so
a retried mint or burn is executed at most once by the issuer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from eth_utils import to_checksum_address

from keeper import jsonsafe
from keeper.integrations.issuer.errors import (
    IssuerConflict,
    IssuerError,
    IssuerNotFound,
    IssuerProtocolError,
    IssuerRejected,
    IssuerUnavailable,
)
from keeper.integrations.issuer.models import Burn, Mint, Reserves, wire_amount
from keeper.keys.secrets import Secret

IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class IssuerClient:
    """:class:`~keeper.integrations.issuer.models.IssuerAPI` over HTTP.

    ``api_key`` is sent as a bearer token and never appears in ``repr`` or errors.
    ``retries`` extra attempts follow the first, waiting ``backoff_s * 2**n`` (capped at
    ``max_backoff_s``) or the server's ``Retry-After`` when smaller than the cap.
    """

    def __init__(self, base_url: str, api_key: Secret, *, timeout_s: float = 10.0, retries: int = 4,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport,
                                  headers={"Authorization": f"Bearer {api_key.reveal()}"})
        self._retries = retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"IssuerClient({str(self._http.base_url)!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # --- API ---------------------------------------------------------------------------------

    def create_mint(self, *, units: int, destination_address: str, reference: str,
                    idempotency_key: str) -> Mint:
        """``POST /v1/mints``: ask for ``units`` USDC base units at ``destination_address``."""
        body = {"amount": wire_amount(units), "currency": "USD",
                "destination_address": destination_address, "reference": reference}
        return self._parse(Mint.from_wire, self._request("POST", "/v1/mints", body, idempotency_key))

    def get_mint(self, mint_id: str) -> Mint:
        """``GET /v1/mints/{id}``."""
        return self._parse(Mint.from_wire, self._request("GET", f"/v1/mints/{_segment(mint_id)}"))

    def create_burn(self, *, units: int, source_address: str, transfer_tx_id: str, reference: str,
                    idempotency_key: str) -> Burn:
        """``POST /v1/burns``: redeem ``units`` sent to the redemption address in ``transfer_tx_id``."""
        body = {"amount": wire_amount(units), "currency": "USD", "source_address": source_address,
                "transfer_tx_id": transfer_tx_id, "reference": reference}
        return self._parse(Burn.from_wire, self._request("POST", "/v1/burns", body, idempotency_key))

    def get_burn(self, burn_id: str) -> Burn:
        """``GET /v1/burns/{id}``."""
        return self._parse(Burn.from_wire, self._request("GET", f"/v1/burns/{_segment(burn_id)}"))

    def redemption_address(self) -> str:
        """``GET /v1/redemption-address``: where to send USDC before :meth:`create_burn`."""
        data = self._request("GET", "/v1/redemption-address")
        return self._parse(lambda d: to_checksum_address(str(d["address"])), data)

    def reserves(self) -> Reserves:
        """``GET /v1/reserves``."""
        return self._parse(Reserves.from_wire, self._request("GET", "/v1/reserves"))

    # --- transport ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
                 idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {}
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = str(uuid.UUID(idempotency_key))
        last: IssuerError | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                self._sleep(self._delay(attempt, last))
            try:
                reply = self._http.request(method, path, json=body, headers=headers)
            except httpx.TransportError as exc:  # connect, read, timeouts
                last = IssuerUnavailable(f"{method} {path}: {type(exc).__name__}")
                continue
            if reply.status_code in RETRYABLE_STATUS:
                last = IssuerUnavailable(f"{method} {path}: HTTP {reply.status_code}",
                                         status=reply.status_code, retry_after=_retry_after(reply))
                continue
            return _decode(method, path, reply)
        assert last is not None
        raise last

    def _delay(self, attempt: int, last: IssuerError | None) -> float:
        delay = min(self._backoff_s * 2 ** (attempt - 1), self._max_backoff_s)
        hinted = last.retry_after if last is not None else None
        return min(hinted, self._max_backoff_s) if hinted is not None else delay

    @staticmethod
    def _parse(build: Callable[[dict[str, Any]], Any], data: dict[str, Any]) -> Any:
        try:
            return build(data)
        except (KeyError, ValueError, TypeError) as exc:
            raise IssuerProtocolError(f"unexpected issuer reply: {type(exc).__name__}: {exc}") from None


def _segment(identifier: str) -> str:
    """An id as one URL path segment (refuses anything that could change the path)."""
    if not identifier or not all(c.isalnum() or c in "-_" for c in identifier):
        raise ValueError("malformed issuer id")
    return identifier


def _retry_after(reply: httpx.Response) -> float | None:
    value = reply.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _decode(method: str, path: str, reply: httpx.Response) -> dict[str, Any]:
    """The JSON object of a 2xx reply, else the matching error (detail text only, no headers)."""
    try:
        data = jsonsafe.loads(reply.content)  # depth checked first: see keeper.jsonsafe
    except ValueError:
        data = None
    detail = data.get("detail") if isinstance(data, dict) else None
    where = f"{method} {path}: HTTP {reply.status_code}"
    if reply.status_code == 404:
        raise IssuerNotFound(f"{where}: {detail}", status=404)
    if reply.status_code == 409:
        raise IssuerConflict(f"{where}: {detail}", status=409)
    if 400 <= reply.status_code < 500:
        raise IssuerRejected(f"{where}: {detail}", status=reply.status_code)
    if not reply.is_success or not isinstance(data, dict):
        raise IssuerProtocolError(f"{where}: not a JSON object", status=reply.status_code)
    return data
