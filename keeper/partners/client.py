"""HTTP client of the Warp Data partner API (httpx): timeouts, retries, 429 honoured.

Transport errors, timeouts and 5xx are retried with doubling backoff; a 429 waits what the
partner's ``Retry-After`` says (capped) before the next attempt. Withdrawals carry a
caller-chosen ``Idempotency-Key`` sent unchanged on every attempt, so a retry is executed at most
once. Replies are validated strictly (:mod:`keeper.partners.interface`); a reply that is not
the documented shape raises :class:`PartnerProtocolError`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from eth_utils import to_checksum_address
from pydantic import BaseModel, ValidationError

from keeper import jsonsafe
from keeper.keys.secrets import Secret
from keeper.partners.interface import (
    AccountsPage,
    BalancesReport,
    PartnerAccount,
    PartnerError,
    PartnerProtocolError,
    PartnerRateLimited,
    PartnerRejected,
    PartnerTx,
    PartnerUnavailable,
    TransactionsPage,
)

M = TypeVar("M", bound=BaseModel)
MAX_REPLY_BYTES = 8 * 1024 * 1024
RETRYABLE = frozenset({500, 502, 503, 504})
REPLY_DEADLINE_TIMEOUTS = 3  # a whole reply may take this many read timeouts


class WarpClient:
    """:class:`~keeper.partners.interface.PartnerAPI` over HTTP for partner ``name``.

    ``api_key`` is sent as a bearer token and never appears in ``repr`` or errors.
    """

    def __init__(self, base_url: str, api_key: Secret, *, name: str = "warp",
                 timeout_s: float = 10.0, retries: int = 3, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {api_key.reveal()}"})
        self._retries, self._backoff_s, self._max_backoff_s = retries, backoff_s, max_backoff_s
        self._timeout_s = timeout_s
        self._sleep = sleep
        self.waited: list[float] = []  # every pause taken (backoff or Retry-After), seconds

    def __repr__(self) -> str:
        return f"WarpClient({self.name!r}, {str(self._http.base_url)!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def open_account(self, client_ref: str) -> PartnerAccount:
        """``POST /v1/accounts``."""
        return _parse(PartnerAccount, self._request("POST", "/v1/accounts", {"client_ref": client_ref}))

    def accounts(self) -> list[PartnerAccount]:
        """``GET /v1/accounts``."""
        return list(_parse(AccountsPage, self._request("GET", "/v1/accounts")).accounts)

    def balances(self) -> BalancesReport:
        """``GET /v1/balances``."""
        return _parse(BalancesReport, self._request("GET", "/v1/balances"))

    def transactions(self, after: int = 0) -> TransactionsPage:
        """``GET /v1/transactions?after=``."""
        return _parse(TransactionsPage, self._request("GET", f"/v1/transactions?after={int(after)}"))

    def withdraw(self, *, client_ref: str, asset: str, units: int, to: str,
                 idempotency_key: str) -> PartnerTx:
        """``POST /v1/withdrawals`` with ``Idempotency-Key``."""
        body = {"client_ref": client_ref, "asset": asset, "amount": str(int(units)),
                "to": to_checksum_address(to)}
        return _parse(PartnerTx, self._request("POST", "/v1/withdrawals", body,
                                               str(uuid.UUID(idempotency_key))))

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
                 idempotency_key: str | None = None) -> Any:
        headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
        last: PartnerError | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                self._pause(attempt, last)
            try:
                reply, content = self._send(method, path, body, headers)
            except httpx.TransportError as exc:
                last = PartnerUnavailable(f"{method} {path}: {type(exc).__name__}")
                continue
            if reply.status_code == 429:
                last = PartnerRateLimited(f"{method} {path}: HTTP 429", status=429,
                                          retry_after=_retry_after(reply))
                continue
            if reply.status_code in RETRYABLE:
                last = PartnerUnavailable(f"{method} {path}: HTTP {reply.status_code}",
                                          status=reply.status_code, retry_after=_retry_after(reply))
                continue
            return _decode(method, path, reply, content)
        assert last is not None
        raise last

    def _send(self, method: str, path: str, body: dict[str, Any] | None,
              headers: dict[str, str]) -> tuple[httpx.Response, bytes | None]:
        """The reply and at most :data:`MAX_REPLY_BYTES` of its body (None: it was longer,
        and reading stopped there: a hostile partner cannot fill our memory). The whole reply
        must arrive within :data:`REPLY_DEADLINE_TIMEOUTS` timeouts (a trickle is cut off)."""
        deadline = time.monotonic() + REPLY_DEADLINE_TIMEOUTS * self._timeout_s
        with self._http.stream(method, path, json=body, headers=headers) as reply:
            content = bytearray()
            for chunk in reply.iter_bytes():
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(f"{method} {path}: reply not complete in time")
                content += chunk
                if len(content) > MAX_REPLY_BYTES:
                    return reply, None
            return reply, bytes(content)

    def _pause(self, attempt: int, last: PartnerError | None) -> None:
        delay = min(self._backoff_s * 2 ** (attempt - 1), self._max_backoff_s)
        if last is not None and last.retry_after is not None:  # the partner said how long
            delay = min(last.retry_after, self._max_backoff_s)
        self.waited.append(delay)
        self._sleep(delay)


def _retry_after(reply: httpx.Response) -> float | None:
    value = reply.headers.get("Retry-After", "")
    return float(value) if value.isdigit() and len(value) < 7 else None


def _decode(method: str, path: str, reply: httpx.Response, content: bytes | None) -> Any:
    where = f"{method} {path}: HTTP {reply.status_code}"
    if content is None:
        raise PartnerProtocolError(f"{where}: reply larger than {MAX_REPLY_BYTES} bytes")
    try:
        data = jsonsafe.loads(content)
    except ValueError:
        data = None
    if 400 <= reply.status_code < 500:
        detail = data.get("detail") if isinstance(data, dict) else None
        raise PartnerRejected(f"{where}: {str(detail)[:200]}", status=reply.status_code)
    if not reply.is_success or not isinstance(data, dict):
        raise PartnerProtocolError(f"{where}: not a JSON object", status=reply.status_code)
    return data


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise PartnerProtocolError(f"unexpected partner reply at {where[:100]}: "
                                   f"{str(first.get('msg', ''))[:100]}") from None
