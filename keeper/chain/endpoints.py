"""The keeper's JSON-RPC endpoints: one home for the choice of the node it reads and sends through.

:class:`FailoverProvider` is a web3 provider over ``settings.rpc_url`` then
``settings.rpc_fallback_urls``, in that order of preference. Every call goes to the first
endpoint that is not resting; an endpoint fails, and rests ``retry_after`` seconds (logged, then
tried again in its turn), when:

* its transport fails: connection refused, timeout, an HTTP error status, an answer that is not
  JSON-RPC (web3 raises; nothing of it is used);
* it answers a JSON-RPC error that means the node itself is broken (:data:`BROKEN_CODES`:
  internal error); errors about the request (a revert, bad params, an unknown method, a log
  query over the provider's limit) are the caller's answer and are returned as they are;
* it is on another chain: ``eth_chainId`` is checked before an endpoint is used, and again each
  time it comes back from resting;
* it is behind: an ``eth_blockNumber`` below :attr:`FailoverProvider.floor` (the follower sets
  it to its cursor) or a node lacking the follower's cursor block (:meth:`refuse`). When every
  node is below the floor (a reorg that shortened the chain past the cursor) the call fails
  until the chain has grown past it again, as the follower waited before: nothing is posted.

Every change of the endpoint in use bumps :attr:`FailoverProvider.switches`; the follower
re-verifies its cursor against the new node (its recorded block hashes) before it posts anything
read through it (:mod:`keeper.chain.follower`). Signed raw transactions
(``eth_sendRawTransaction``) are broadcast to every endpoint that is not resting, any of which may
propagate them; nonces and every other read come from the endpoint in use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.providers import HTTPProvider, JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

log = logging.getLogger(__name__)
# internal error: the node itself failed. Not -32005 ("limit exceeded"): providers answer it to a
# log query with too many results, which the reader splits (keeper.chain.reader)
BROKEN_CODES = frozenset({-32603})
RETRY_AFTER_S = 15.0
BROADCAST = "eth_sendRawTransaction"


class NoHealthyEndpointError(ConnectionError):
    """Every endpoint failed this call (each is retried after its rest)."""


@dataclass(slots=True)
class Endpoint:
    """One node: its provider, until when it rests, and whether its chain id was checked."""

    url: str
    provider: HTTPProvider
    resting_until: float = 0.0
    admitted: bool = False
    reason: str = ""


def _broken(resp: Any) -> str | None:
    """Why a JSON-RPC answer (or batch of answers) shows a broken node, else None."""
    items = resp if isinstance(resp, list) else [resp]
    for r in items:
        if not isinstance(r, dict):
            return "answer is not a JSON-RPC object"
        err = r.get("error")
        if isinstance(err, dict) and err.get("code") in BROKEN_CODES:
            return f"JSON-RPC error {err.get('code')}: {str(err.get('message', ''))[:200]}"
    return None


class FailoverProvider(JSONBaseProvider):
    """A web3 provider over several endpoints in order of preference (see the module doc).

    ``chain_id``: the chain every endpoint must be on (None: the first endpoint admitted sets
    it). ``timeout``: seconds per HTTP request. ``retry_after``: how long a failed endpoint
    rests. ``clock``: monotonic seconds (tests)."""

    def __init__(self, urls: Sequence[str], *, chain_id: int | None = None,
                 timeout: float = 10.0, retry_after: float = RETRY_AFTER_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        unique = list(dict.fromkeys(u for u in urls if u))
        if not unique:
            raise ValueError("at least one RPC URL is needed")
        self.endpoints = [Endpoint(u, HTTPProvider(u, request_kwargs={"timeout": timeout},
                                                   exception_retry_configuration=None))
                          for u in unique]
        self.chain_id = chain_id
        self.retry_after = retry_after
        self.clock = clock
        self.floor = -1
        self.switches = 0
        self._current: Endpoint | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ state
    @property
    def url(self) -> str | None:
        """The endpoint in use (None before the first call)."""
        return None if self._current is None else self._current.url

    def note_floor(self, block: int) -> None:
        """A node whose head is below ``block`` is behind (the follower's cursor): refused."""
        with self._lock:
            self.floor = max(self.floor, block)

    def refuse(self, reason: str) -> None:
        """Rest the endpoint in use (e.g. it lacks the follower's cursor block)."""
        with self._lock:
            ep = self._current
        if ep is not None:
            self._rest(ep, reason)

    def _rest(self, ep: Endpoint, reason: str) -> None:
        with self._lock:
            ep.resting_until = self.clock() + self.retry_after
            ep.admitted = False
            ep.reason = reason
            if self._current is ep:
                self._current = None
        log.warning("RPC endpoint %s skipped for %.0f s: %s", ep.url, self.retry_after, reason)

    def _candidates(self) -> list[Endpoint]:
        """Endpoints not resting, by preference; every one when all rest (last resort)."""
        now = self.clock()
        awake = [e for e in self.endpoints if e.resting_until <= now]
        return awake or list(self.endpoints)

    def _admit(self, ep: Endpoint) -> str | None:
        """Check a (returning) endpoint's chain id and head; why it is refused, else None."""
        if ep.admitted:
            return None
        chain = ep.provider.make_request(RPCEndpoint("eth_chainId"), [])
        if "error" in chain:
            return f"eth_chainId failed: {chain['error']}"
        got = int(chain["result"], 16)
        with self._lock:
            if self.chain_id is None:
                self.chain_id = got
        if got != self.chain_id:
            return f"on chain {got}, expected {self.chain_id}"
        head = ep.provider.make_request(RPCEndpoint("eth_blockNumber"), [])
        if "error" in head:
            return f"eth_blockNumber failed: {head['error']}"
        if (behind := self._behind(int(head["result"], 16))) is not None:
            return behind
        ep.admitted = True
        return None

    def _behind(self, head: int) -> str | None:
        """Why a node whose head is ``head`` is behind the cursor, else None."""
        return f"head {head} is behind block {self.floor}" if head < self.floor else None

    def _use(self, ep: Endpoint) -> None:
        with self._lock:
            if self._current is ep:
                return
            before, self._current = self._current, ep
            self.switches += 1
        if before is not None or self.switches > 1:
            log.warning("RPC endpoint in use is now %s (was %s)", ep.url,
                        before.url if before else "none")

    # ------------------------------------------------------------------ calls
    def _attempt(self, ep: Endpoint, fn: Callable[[HTTPProvider], Any],
                 check: Callable[[Any], str | None]) -> tuple[Any, str | None]:
        """(answer, None) from ``ep``, or (None, why it failed): admission, transport, check."""
        try:
            reason = self._admit(ep)
            resp = None if reason else fn(ep.provider)
            return resp, reason or check(resp)
        except Exception as exc:  # noqa: BLE001 - any transport failure: the next endpoint
            return None, f"{type(exc).__name__}: {str(exc)[:200]}"

    def _call(self, what: str, fn: Callable[[HTTPProvider], Any],
              check: Callable[[Any], str | None] = _broken) -> Any:
        """``fn`` on the first endpoint that answers it soundly (see the module doc)."""
        failures: list[str] = []
        for ep in self._candidates():
            resp, reason = self._attempt(ep, fn, check)
            if reason is None:
                self._use(ep)
                return resp
            failures.append(f"{ep.url}: {reason}")
            self._rest(ep, f"{what}: {reason}")
        raise NoHealthyEndpointError(f"{what}: every RPC endpoint failed ({'; '.join(failures)})")

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """One JSON-RPC call through the endpoint in use (a raw transaction: to all)."""
        if method == BROADCAST:
            return self._broadcast(params)

        def check(resp: Any) -> str | None:
            reason = _broken(resp)
            if reason is None and method == "eth_blockNumber" and "result" in resp:
                reason = self._behind(int(resp["result"], 16))
            return reason

        return self._call(method, lambda p: p.make_request(method, params), check)

    def make_batch_request(self, requests: list[tuple[RPCEndpoint, Any]]
                           ) -> list[RPCResponse] | RPCResponse:
        """A JSON-RPC batch through the endpoint in use."""
        return self._call("batch", lambda p: p.make_batch_request(requests))

    def _broadcast(self, params: Any) -> RPCResponse:
        """Send a signed transaction to every endpoint not resting; the first acceptance wins,
        else the answer of the most preferred endpoint that answered."""
        answers: list[RPCResponse] = []
        failures: list[str] = []
        for ep in self._candidates():
            resp, reason = self._attempt(
                ep, lambda p: p.make_request(RPCEndpoint(BROADCAST), params), _broken)
            if reason is not None:
                failures.append(f"{ep.url}: {reason}")
                self._rest(ep, f"{BROADCAST}: {reason}")
                continue
            answers.append(resp)
        if not answers:
            raise NoHealthyEndpointError(f"{BROADCAST}: every RPC endpoint failed "
                                    f"({'; '.join(failures)})")
        return next((a for a in answers if "result" in a), answers[0])


def web3_from_settings(settings: Any, chain_id: int | None = None, *,
                       timeout: float = 10.0) -> Web3:
    """The keeper's Web3 over a :class:`FailoverProvider`: ``settings.rpc_url`` then
    ``settings.rpc_fallback_urls``, every one on ``chain_id`` (default ``settings.chain_id``).
    (``is_connected`` is web3's own: a failure of every endpoint is an ``OSError``.)"""
    urls = [settings.rpc_url, *getattr(settings, "rpc_fallback_urls", ())]
    return Web3(FailoverProvider(urls, chain_id=settings.chain_id if chain_id is None else chain_id,
                                 timeout=timeout))


def switches(w3: Any) -> int:
    """How many times ``w3``'s endpoint changed (0 for a single-node provider)."""
    return int(getattr(w3.provider, "switches", 0))


def note_floor(w3: Any, block: int) -> None:
    """Tell ``w3``'s provider that a node below ``block`` is behind (no-op for one node)."""
    note = getattr(w3.provider, "note_floor", None)
    if note is not None:
        note(block)


def refuse_endpoint(w3: Any, reason: str) -> None:
    """Rest ``w3``'s endpoint in use (nothing to do for a single-node provider)."""
    refuse = getattr(w3.provider, "refuse", None)
    if refuse is not None:
        refuse(reason)
