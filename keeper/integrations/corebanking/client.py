"""HTTP client of core banking (ATLAS): :class:`CoreBankingService` over httpx.

Timeouts on every call. Only idempotent calls are retried -- reads, and writes carrying an
idempotency key (sent unchanged on every attempt) or a GL ``batch_id`` -- on a transport error,
a timeout, or a 500/502/504, with exponential backoff. A 503 (maintenance window) is surfaced at
once as :class:`CoreBankingUnavailableError` with its ``Retry-After``: the caller decides when
to come back. A 4xx is :class:`CoreBankingRejectedError` (``insufficient_funds``:
:class:`InsufficientFundsError`); nothing was applied. Amounts are integer cents; the wire's
decimal strings are parsed by :func:`keeper.integrations.corebanking.wire.cents` only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from keeper import jsonsafe
from keeper.integrations.corebanking.interface import (
    CoreBankingError,
    CoreBankingRejectedError,
    CoreBankingUnavailableError,
    Customer,
    GLPosted,
    InsufficientFundsError,
    Posting,
)
from keeper.integrations.corebanking.wire import MAX_UNITS, GLBatch, cents, signed_cents
from keeper.keys.secrets import Secret
from keeper.recon import FiatEntry

RETRYABLE = frozenset({500, 502, 504})


def _uuid(key: str) -> str:
    try:
        return str(uuid.UUID(key))
    except ValueError:
        raise ValueError("idempotency key must be a UUID") from None


def _wire(amount: int) -> str:
    if type(amount) is not int or amount < 0:
        raise ValueError("amounts are non-negative integer cents")
    return str(amount)


def _posting(d: Mapping[str, Any]) -> Posting:
    return Posting(str(d["posting_id"]), str(d["kind"]), d.get("customer_id"), cents(d["amount"]),
                   cents(d.get("fee", "0")), signed_cents(d["balance"]),
                   datetime.fromisoformat(d["posted_at"]), d.get("transaction_id"))


def _customer(d: Mapping[str, Any]) -> Customer:
    return Customer(str(d["customer_id"]), str(d["name"]), str(d["account_id"]),
                    signed_cents(d["balance"]))


class AtlasClient:
    """:class:`~keeper.integrations.corebanking.interface.CoreBankingService` over HTTP.

    ``api_key`` (a :class:`~keeper.keys.secrets.Secret`) is sent as a bearer token and never
    appears in ``repr`` or errors. ``retries`` extra attempts follow the first of an idempotent
    call, waiting ``backoff_s * 2**n`` (capped at ``max_backoff_s``).
    """

    def __init__(self, base_url: str, api_key: Secret, *, timeout_s: float = 10.0, retries: int = 3,
                 backoff_s: float = 0.25, max_backoff_s: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {api_key.reveal()}"})
        self.retries, self.backoff_s, self.max_backoff_s, self._sleep = (
            retries, backoff_s, max_backoff_s, sleep)
        self.attempts = 0  # HTTP requests sent (for tests and metrics)

    def __repr__(self) -> str:
        return f"AtlasClient({str(self._http.base_url)!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # --- transport ---------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, *, key: str | None = None,
                idempotent: bool) -> Any:
        """One call; retried only if ``idempotent``. Returns the decoded JSON answer."""
        headers = {"Idempotency-Key": _uuid(key)} if key is not None else {}
        last: CoreBankingUnavailableError | None = None
        for attempt in range((self.retries if idempotent else 0) + 1):
            if attempt:
                self._sleep(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))
            self.attempts += 1
            try:
                reply = self._http.request(method, path, json=body, headers=headers)
            except httpx.TransportError as exc:
                last = CoreBankingUnavailableError(f"{method} {path}: {type(exc).__name__}")
                continue
            if reply.status_code == 503:
                ra = reply.headers.get("Retry-After", "")
                raise CoreBankingUnavailableError(f"{method} {path}: core banking in maintenance",
                                                  status=503,
                                                  retry_after_s=float(ra) if ra.isdigit() else None)
            if reply.status_code in RETRYABLE:
                last = CoreBankingUnavailableError(f"{method} {path}: HTTP {reply.status_code}",
                                                   status=reply.status_code)
                continue
            return self._decode(method, path, reply)
        assert last is not None
        raise last

    @staticmethod
    def _decode(method: str, path: str, reply: httpx.Response) -> Any:
        try:
            data = jsonsafe.loads(reply.content)  # depth checked first: see keeper.jsonsafe
        except ValueError:
            data = None
        if reply.status_code >= 400:
            err = data.get("error", {}) if isinstance(data, dict) else {}
            code, msg = str(err.get("code", "http_error")), str(err.get("message", ""))[:500]
            cls = InsufficientFundsError if code == "insufficient_funds" else CoreBankingRejectedError
            if reply.status_code >= 500:
                raise CoreBankingUnavailableError(f"{method} {path}: HTTP {reply.status_code}",
                                                  status=reply.status_code)
            raise cls(reply.status_code, code, msg)
        if data is None:
            raise CoreBankingError(f"{method} {path}: answer is not JSON")
        return data

    def _checked(self, build: Callable[[Any], Any], data: Any) -> Any:
        try:
            return build(data)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise CoreBankingError(f"malformed answer from core banking: {exc}") from None

    # --- CoreBankingService ------------------------------------------------------------------

    def customer(self, customer_id: str) -> Customer:
        """``GET /atlas/customers/{id}``."""
        d = self.request("GET", f"/atlas/customers/{_segment(customer_id)}", idempotent=True)
        return self._checked(_customer, d)

    def _trade(self, path: str, key: str, customer_id: str, amount_cents: int, fee_cents: int,
               reference: str, asset: str, asset_units: int, ledger_transfer_id: str) -> Posting:
        if type(asset_units) is not int or asset_units < 0:
            raise ValueError("asset_units are non-negative integer base units")
        body = {"customer_id": customer_id, "amount": _wire(amount_cents), "fee": _wire(fee_cents),
                "reference": reference, "asset": asset, "asset_units": str(asset_units),
                "ledger_transfer_id": ledger_transfer_id}
        return self._checked(_posting, self.request("POST", path, body, key=key, idempotent=True))

    def debit_for_buy(self, idempotency_key: str, customer_id: str, amount_cents: int, *,
                      fee_cents: int = 0, reference: str, asset: str, asset_units: int,
                      ledger_transfer_id: str) -> Posting:
        """``POST /atlas/debits``: the customer pays ``amount + fee`` for a buy."""
        return self._trade("/atlas/debits", idempotency_key, customer_id, amount_cents, fee_cents,
                           reference, asset, asset_units, ledger_transfer_id)

    def credit_for_sell(self, idempotency_key: str, customer_id: str, amount_cents: int, *,
                        fee_cents: int = 0, reference: str, asset: str, asset_units: int,
                        ledger_transfer_id: str) -> Posting:
        """``POST /atlas/credits``: the customer receives ``amount - fee`` for a sale."""
        return self._trade("/atlas/credits", idempotency_key, customer_id, amount_cents, fee_cents,
                           reference, asset, asset_units, ledger_transfer_id)

    def reverse_debit(self, idempotency_key: str, posting_id: str, *, reference: str) -> Posting:
        """``POST /atlas/debits/{posting_id}/reverse``: give back a buy's debit and fee exactly
        (a refunded buy). Rejected ``unknown_debit`` (404) or ``already_reversed`` (409)."""
        d = self.request("POST", f"/atlas/debits/{_segment(posting_id)}/reverse",
                         {"reference": reference}, key=idempotency_key, idempotent=True)
        return self._checked(_posting, d)

    def _reserves(self, direction: str, key: str, asset: str, amount_cents: int,
                  reference: str) -> Posting:
        body = {"amount": _wire(amount_cents), "reference": reference}
        d = self.request("POST", f"/atlas/reserves/{_segment(asset)}/{direction}", body, key=key,
                         idempotent=True)
        return self._checked(_posting, d)

    def fund_reserves(self, idempotency_key: str, asset: str, amount_cents: int,
                      reference: str) -> Posting:
        """``POST /atlas/reserves/{asset}/fund``."""
        return self._reserves("fund", idempotency_key, asset, amount_cents, reference)

    def release_reserves(self, idempotency_key: str, asset: str, amount_cents: int,
                         reference: str) -> Posting:
        """``POST /atlas/reserves/{asset}/release``."""
        return self._reserves("release", idempotency_key, asset, amount_cents, reference)

    def post_gl_batch(self, batch: GLBatch) -> GLPosted:
        """``POST /atlas/gl/post-batch`` (idempotent on ``batch_id``); a rejection names every
        reason in its message."""
        d = self.request("POST", "/atlas/gl/post-batch", batch.model_dump(mode="json"),
                         idempotent=True)
        return self._checked(lambda d: GLPosted(d["batch_id"], d["atlas_batch_id"],
                                                datetime.fromisoformat(d["posted_at"])), d)

    def fiat_balances(self) -> Mapping[str, int]:
        """``GET /atlas/balances``: customer id -> cents."""
        d = self.request("GET", "/atlas/balances", idempotent=True)
        return self._checked(lambda d: {str(k): signed_cents(v) for k, v in d.items()}, d)

    def history(self, customer: str) -> Sequence[FiatEntry]:
        """``GET /atlas/customers/{id}/history`` as reconciliation's :class:`FiatEntry` list."""
        d = self.request("GET", f"/atlas/customers/{_segment(customer)}/history", idempotent=True)
        return self._checked(lambda d: [
            FiatEntry(e["id"], datetime.fromisoformat(e["at"]), e["kind"], signed_cents(e["amount"]),
                      e.get("asset"), signed_cents(e.get("asset_units") or "0", MAX_UNITS),
                      e.get("ledger_transfer_id"))
            for e in d], d)

    def issuer_reserves(self, asset: str) -> int:
        """``GET /atlas/reserves/{asset}``: cents held for the issuer."""
        d = self.request("GET", f"/atlas/reserves/{_segment(asset)}", idempotent=True)
        return self._checked(lambda d: cents(d["amount"]), d)


def _segment(value: str) -> str:
    """A path segment: refuses anything that could change the path."""
    if not value or any(c in value for c in "/?#%\\") or value in (".", ".."):
        raise ValueError("not a valid identifier")
    return value
