"""A hostile or broken venue (a real HTTP server answering what a test tells it) can make an
HttpVenue call fail with a CCXT error, never crash the caller, hand it a wrong number, follow it
elsewhere, or see the API key in an error."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from keeper.keys.secrets import Secret
from keeper.trading.types import (
    BadRequest,
    BadResponse,
    BaseError,
    ExchangeError,
    ExchangeNotAvailable,
    NetworkError,
    OrderType,
    PermissionDenied,
    RateLimitExceeded,
    RequestTimeout,
    Side,
)
from keeper.trading.venues import HttpVenue

KEY = "hostile-test-key-" + "k" * 16
BOOK = {"symbol": "BTC/USD", "bids": [["100", "5"], ["99", "5"]], "asks": [["101", "5"]], "timestamp": 1}
ORDER = {"id": "o-1", "clientOrderId": "c-1", "symbol": "BTC/USD", "type": "market", "side": "buy",
         "price": None, "amount": "10", "filled": "10", "remaining": "0", "cost": "1010",
         "fee": {"cost": "1", "currency": "USD"}, "status": "closed", "timestamp": 1, "average": "101"}
BALANCE = {"free": {"USD": "5"}, "used": {"USD": "1"}, "total": {"USD": "6"}}


class Answer:
    """What the server says next: status, headers, body bytes (or a raw socket write)."""

    status: int = 200
    headers: dict[str, str] = {}
    body: bytes = b"{}"
    raw: bytes | None = None
    drip_s: float = 0.0  # seconds between bytes of the body
    url: str = ""  # where the server listens
    written = 0  # bytes dripped before the client gave up (or all)
    done = threading.Event()  # set when a drip ended


class Handler(BaseHTTPRequestHandler):
    answer = Answer()

    def _reply(self) -> None:
        if self.answer.raw is not None:
            self._drip(self.answer.raw) if self.answer.drip_s else self.wfile.write(self.answer.raw)
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_response(self.answer.status)
        for name, value in self.answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.answer.body)))
        self.end_headers()
        if not self.answer.drip_s:
            self.wfile.write(self.answer.body)
            return
        self._drip(self.answer.body)

    def _drip(self, data: bytes) -> None:
        self.answer.written = 0
        try:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                self.answer.written += 1
                time.sleep(self.answer.drip_s)
        except OSError:  # the client gave up
            pass
        finally:
            self.answer.done.set()

    do_GET = do_POST = do_DELETE = _reply

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[HttpVenue, Answer]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    Handler.answer.url = f"http://127.0.0.1:{server.server_address[1]}"
    venue = HttpVenue("hostile", Handler.answer.url, Secret(KEY), timeout_s=3, max_body_bytes=100_000)
    try:
        yield venue, Handler.answer
    finally:
        venue.close()
        server.shutdown()
        server.server_close()


def serve(answer: Answer, body: object = None, *, status: int = 200, raw_body: bytes | None = None,
          headers: dict[str, str] | None = None, raw: bytes | None = None, drip_s: float = 0.0) -> None:
    answer.status, answer.headers, answer.raw, answer.drip_s = status, headers or {}, raw, drip_s
    answer.body = raw_body if raw_body is not None else json.dumps(body).encode()


def book(**changes: object) -> dict[str, object]:
    return {**BOOK, **changes}


def order(**changes: object) -> dict[str, object]:
    return {**ORDER, **changes}


GZIP = {"Content-Encoding": "gzip"}
GET_BOOK: Callable[[HttpVenue], object] = lambda v: v.fetch_order_book("BTC/USD", 2)  # noqa: E731
CREATE: Callable[[HttpVenue], object] = lambda v: v.create_order(  # noqa: E731
    "BTC/USD", OrderType.MARKET, Side.BUY, 10, None, {"clientOrderId": "c-1"})
CASES = [
    ("not json", GET_BOOK, dict(raw_body=b"<html>hi</html>"), BadResponse),
    ("json array", GET_BOOK, dict(body=[]), BadResponse),
    ("float price", GET_BOOK, dict(body=book(bids=[[100.5, "5"]])), BadResponse),
    ("negative amount", GET_BOOK, dict(body=book(bids=[["100", "-5"]])), BadResponse),
    ("exponent", GET_BOOK, dict(body=book(asks=[["1e3", "5"]])), BadResponse),
    ("absurd number", GET_BOOK, dict(body=book(asks=[["9" * 60, "5"]])), BadResponse),
    ("zero amount", GET_BOOK, dict(body=book(asks=[["101", "0"]])), BadResponse),
    ("crossed", GET_BOOK, dict(body=book(asks=[["100", "5"]])), BadResponse),
    ("unsorted", GET_BOOK, dict(body=book(bids=[["99", "5"], ["100", "5"]])), BadResponse),
    ("more levels than asked", GET_BOOK, dict(body=book(asks=[["101", "1"], ["102", "1"], ["103", "1"]])),
     BadResponse),
    ("other symbol", GET_BOOK, dict(body=book(symbol="ETH/USD")), BadResponse),
    ("bool timestamp", GET_BOOK, dict(body=book(timestamp=True)), BadResponse),
    ("nested bomb", GET_BOOK, dict(raw_body=b"[" * 50_000 + b"]" * 50_000), BadResponse),
    ("oversized", GET_BOOK, dict(raw_body=b'{"x": "' + b"a" * 200_000 + b'"}'), BadResponse),
    ("filled+remaining", CREATE, dict(body=order(remaining="5")), BadResponse),
    ("another order", CREATE, dict(body=order(amount="11", remaining="1")), BadResponse),
    ("another client id", CREATE, dict(body=order(clientOrderId="c-2")), BadResponse),
    ("side flipped", CREATE, dict(body=order(side="sell")), BadResponse),
    ("unknown status", CREATE, dict(body=order(status="filled")), BadResponse),
    ("fee currency injection", CREATE, dict(body=order(fee={"cost": "1", "currency": "USD\n"})), BadResponse),
    ("hostile id", CREATE, dict(body=order(id="../../x")), BadResponse),
    ("balance not adding up", lambda v: v.fetch_balance(),
     dict(body={**BALANCE, "total": {"USD": "7"}}), BadResponse),
    ("balance parts differ", lambda v: v.fetch_balance(),
     dict(body={**BALANCE, "used": {"USD": "1", "BTC": "0"}}), BadResponse),
    ("500 html", GET_BOOK, dict(status=500, raw_body=b"<h1>oops</h1>"), ExchangeNotAvailable),
    ("redirect", GET_BOOK, dict(status=302, raw_body=b"", headers={"Location": "http://10.0.0.1/"}),
     ExchangeError),
    ("teapot", GET_BOOK, dict(status=418, body={"error": {"code": "INSUFFICIENT_FUNDS\n", "message": KEY}}),
     ExchangeError),
    ("bad gzip", GET_BOOK, dict(raw_body=b"not gzip at all", headers=GZIP), BadResponse),
    ("gzip bomb", GET_BOOK, dict(raw_body=gzip.compress(b" " * 5_000_000), headers=GZIP), BadResponse),
    ("bad charset", GET_BOOK, dict(raw_body=b'{"symbol": "\xff\xfe"}',
                                   headers={"Content-Type": "application/json; charset=utf-8"}), BadResponse),
    ("403", GET_BOOK, dict(status=403, body={"error": {"code": "FORBIDDEN"}}), PermissionDenied),
    ("404 without our code", GET_BOOK, dict(status=404, raw_body=b"not found"), BadRequest),
    ("fake code on 200", CREATE, dict(body={"error": {"code": "ORDER_NOT_FOUND"}}), BadResponse),
    ("truncated", GET_BOOK, dict(raw=b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"symbol"'),
     NetworkError),
    ("garbage status line", GET_BOOK, dict(raw=b"NOT HTTP AT ALL\r\n\r\n"), NetworkError),
]


@pytest.mark.parametrize(("name", "call", "served", "error"), CASES, ids=[c[0] for c in CASES])
def test_hostile_answer_raises_a_ccxt_error(hostile: tuple[HttpVenue, Answer], name: str,
                                            call: Callable[[HttpVenue], object], served: dict[str, object],
                                            error: type[BaseError]) -> None:
    venue, answer = hostile
    serve(answer, **served)  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        call(venue)
    assert KEY not in str(caught.value) and KEY not in repr(venue)


def test_well_formed_answers_parse(hostile: tuple[HttpVenue, Answer]) -> None:
    venue, answer = hostile
    serve(answer, BOOK)
    assert GET_BOOK(venue).bids[0].price == 100  # type: ignore[attr-defined]
    serve(answer, ORDER)
    assert CREATE(venue).cost == 1010  # type: ignore[attr-defined]


def test_a_venue_dripping_its_answer_times_out(hostile: tuple[HttpVenue, Answer]) -> None:
    """Each byte comes well within the read timeout, the whole answer would take 20 s: the call
    ends with RequestTimeout and hangs up long before the venue is through (the whole call has a
    deadline), whether the venue drips its headers or its body."""
    venue, answer = hostile
    impatient = HttpVenue("hostile", answer.url, Secret(KEY), timeout_s=0.3)
    body = json.dumps(BOOK).encode().ljust(400)
    head = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"p" * 380 + b"\r\nContent-Length: 2\r\n\r\n{}"
    for served in (dict(raw_body=body), dict(raw=head)):
        answer.done.clear()
        serve(answer, drip_s=0.05, **served)  # type: ignore[arg-type]
        with pytest.raises(RequestTimeout):
            GET_BOOK(impatient)
        assert answer.done.wait(30)
        assert answer.written < 200  # the client hung up, it did not wait for the venue's pace
    impatient.close()
    serve(answer, BOOK)


def test_absurd_retry_after_is_capped(hostile: tuple[HttpVenue, Answer]) -> None:
    venue, answer = hostile
    serve(answer, {"error": {"code": "RATE_LIMIT", "retry_after_ms": 10**15}}, status=429)
    with pytest.raises(RateLimitExceeded) as caught:
        GET_BOOK(venue)
    assert caught.value.retry_after_s == 300.0
    serve(answer, {"error": {"retry_after_ms": -5}}, status=429, headers={"Retry-After": "soon"})
    with pytest.raises(RateLimitExceeded) as caught:
        GET_BOOK(venue)
    assert caught.value.retry_after_s is None
