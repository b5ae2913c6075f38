"""Client webhook delivery: signed bodies, backoff, dead letters, the delivery log, isolation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from keeper.alerts import verify_signature
from keeper.notifications import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    ORDER_COMPLETED,
    SIGNATURE_HEADER,
    WITHDRAWAL_CONFIRMED,
    DeliveryStatus,
    UnknownEndpoint,
    WebhookDispatcher,
    create_endpoint,
    delete_endpoint,
    delivery_log,
    enqueue,
    master_secret,
)
from keeper.notifications.models import Delivery

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
_D = Delivery.__table__


@pytest.fixture
def master(tmp_path: Path) -> bytes:
    """The deployment's master signing secret (a real 0600 file)."""
    return master_secret(tmp_path / "secrets")


def _dispatcher(engine: Engine, master: bytes, **kw: object) -> WebhookDispatcher:
    opts = {"allow_loopback": True, "backoff": 30.0, "max_attempts": 3, "timeout": 2.0,
            "claim_seconds": 60.0} | kw
    return WebhookDispatcher(engine, master, **opts)  # type: ignore[arg-type]


def _event(engine: Engine, client: str, n: int, event: str = ORDER_COMPLETED) -> str:
    with engine.begin() as conn:
        enqueue(conn, client, event, {"order": f"o{n}", "amount": str(10**30 + n)},
                event_id=f"{client}:{n}", now=T0)
    return f"{client}:{n}"


def _statuses(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [(r.status, r.attempts) for r in conn.execute(select(_D).order_by(_D.c.id))]


def test_delivery_is_signed_and_logged(engine: Engine, master: bytes,
                                       receiver_factory: Callable[..., Any]) -> None:
    rec = receiver_factory()
    created = create_endpoint(engine, "alice", rec.url, master=master, allow_loopback=True)
    event_id = _event(engine, "alice", 1)
    assert _dispatcher(engine, master).dispatch_once(T0) == 1
    [req] = rec.requests
    secret = created.secret.encode()
    assert verify_signature(secret, req["headers"][SIGNATURE_HEADER], req["raw"])
    assert not verify_signature(b"whsec_other", req["headers"][SIGNATURE_HEADER], req["raw"])
    assert not verify_signature(secret, req["headers"][SIGNATURE_HEADER], req["raw"] + b" ")
    assert req["headers"][EVENT_HEADER] == ORDER_COMPLETED
    assert req["headers"][DELIVERY_HEADER] == event_id
    assert req["body"] == {"id": event_id, "type": ORDER_COMPLETED,
                           "created_at": T0.isoformat(),
                           "data": {"order": "o1", "amount": str(10**30 + 1)}}
    log = delivery_log(engine, "alice", created.endpoint.id)
    assert [(a.event_id, a.attempt, a.status_code, a.error, a.delivery_status) for a in log] == \
        [(event_id, 1, 200, None, DeliveryStatus.SENT)]
    # sent once: another pass sends nothing
    assert _dispatcher(engine, master).dispatch_once(T0 + timedelta(hours=1)) == 0
    assert len(rec.requests) == 1


def test_signature_replayed_later_is_refused_by_the_verifier(
        engine: Engine, master: bytes, receiver_factory: Callable[..., Any]) -> None:
    rec = receiver_factory()
    created = create_endpoint(engine, "alice", rec.url, master=master, allow_loopback=True)
    _event(engine, "alice", 1)
    _dispatcher(engine, master).dispatch_once(T0)
    [req] = rec.requests
    header = req["headers"][SIGNATURE_HEADER]
    ts = int(header.split(",")[0].removeprefix("t="))
    assert verify_signature(created.secret.encode(), header, req["raw"], now=ts + 10)
    assert not verify_signature(created.secret.encode(), header, req["raw"], now=ts + 3600)


def test_failures_back_off_exponentially_then_dead_letter(
        engine: Engine, master: bytes, receiver_factory: Callable[..., Any]) -> None:
    rec = receiver_factory(statuses=[500, 503, 502])
    created = create_endpoint(engine, "alice", rec.url, master=master, allow_loopback=True)
    _event(engine, "alice", 1)
    d = _dispatcher(engine, master)
    assert d.dispatch_once(T0) == 0
    assert _statuses(engine) == [(DeliveryStatus.PENDING, 1)]
    assert d.dispatch_once(T0 + timedelta(seconds=29)) == 0  # not due before 30 s
    assert len(rec.requests) == 1
    assert d.dispatch_once(T0 + timedelta(seconds=30)) == 0
    assert len(rec.requests) == 2
    assert d.dispatch_once(T0 + timedelta(seconds=30 + 59)) == 0  # then 60 s
    assert len(rec.requests) == 2
    assert d.dispatch_once(T0 + timedelta(seconds=30 + 60)) == 0
    assert _statuses(engine) == [(DeliveryStatus.DEAD, 3)]
    assert d.dispatch_once(T0 + timedelta(days=1)) == 0
    assert len(rec.requests) == 3
    log = delivery_log(engine, "alice", created.endpoint.id)
    assert [(a.attempt, a.status_code, a.error) for a in log] == \
        [(3, 502, "HTTP 502"), (2, 503, "HTTP 503"), (1, 500, "HTTP 500")]
    assert all(a.latency_ms >= 0 for a in log)


def test_retry_succeeds_after_a_failure(engine: Engine, master: bytes,
                                        receiver_factory: Callable[..., Any]) -> None:
    rec = receiver_factory(statuses=[500])
    create_endpoint(engine, "alice", rec.url, master=master, allow_loopback=True)
    _event(engine, "alice", 1)
    d = _dispatcher(engine, master)
    assert d.dispatch_once(T0) == 0
    assert d.dispatch_once(T0 + timedelta(seconds=30)) == 1
    assert _statuses(engine) == [(DeliveryStatus.SENT, 2)]
    assert [r["body"]["id"] for r in rec.requests] == ["alice:1", "alice:1"]


def test_unreachable_endpoint_is_logged_without_its_url(engine: Engine, master: bytes) -> None:
    from strongroom_testkit import free_port

    url = f"http://127.0.0.1:{free_port()}/secret-token-in-path"
    created = create_endpoint(engine, "alice", url, master=master, allow_loopback=True)
    _event(engine, "alice", 1)
    assert _dispatcher(engine, master).dispatch_once(T0) == 0
    [attempt] = delivery_log(engine, "alice", created.endpoint.id)
    assert attempt.status_code is None and attempt.error == "ConnectError"
    assert "secret-token" not in (attempt.error or "")


def test_events_go_only_to_their_clients_endpoints(
        engine: Engine, master: bytes, receiver_factory: Callable[..., Any]) -> None:
    ra, rb = receiver_factory(), receiver_factory()
    ea = create_endpoint(engine, "alice", ra.url, master=master, allow_loopback=True)
    eb = create_endpoint(engine, "bob", rb.url, master=master, allow_loopback=True)
    _event(engine, "alice", 1)
    _event(engine, "bob", 2, WITHDRAWAL_CONFIRMED)
    assert _dispatcher(engine, master).dispatch_once(T0) == 2
    assert [r["body"]["id"] for r in ra.requests] == ["alice:1"]
    assert [r["body"]["id"] for r in rb.requests] == ["bob:2"]
    # each client's secret signs only its own deliveries
    assert not verify_signature(eb.secret.encode(), ra.requests[0]["headers"][SIGNATURE_HEADER],
                                ra.requests[0]["raw"])
    assert ea.secret != eb.secret
    with pytest.raises(UnknownEndpoint):
        delivery_log(engine, "bob", ea.endpoint.id)
    with pytest.raises(UnknownEndpoint):
        delete_endpoint(engine, "bob", ea.endpoint.id)


def test_a_slow_endpoint_does_not_block_another_clients(
        engine: Engine, master: bytes, receiver_factory: Callable[..., Any]) -> None:
    fast = receiver_factory()
    # the slow endpoint answers only once the fast one has received its event (or gives up)
    slow = receiver_factory(gate=fast.on_request, gate_timeout=5.0)
    create_endpoint(engine, "slowco", slow.url, master=master, allow_loopback=True)
    create_endpoint(engine, "fastco", fast.url, master=master, allow_loopback=True)
    _event(engine, "slowco", 1)  # due first
    _event(engine, "fastco", 2)
    assert _dispatcher(engine, master, timeout=10.0, claim_seconds=60.0).dispatch_once(T0) == 2
    assert slow.requests[0]["gate_open"] is True  # fast was served while slow was in flight


def test_deleted_endpoint_gets_nothing_more(engine: Engine, master: bytes,
                                            receiver_factory: Callable[..., Any]) -> None:
    rec = receiver_factory(statuses=[500])
    created = create_endpoint(engine, "alice", rec.url, master=master, allow_loopback=True)
    _event(engine, "alice", 1)
    d = _dispatcher(engine, master)
    d.dispatch_once(T0)
    delete_endpoint(engine, "alice", created.endpoint.id)
    _event(engine, "alice", 2)
    d.dispatch_once(T0 + timedelta(hours=1))
    assert len(rec.requests) == 1
    assert _statuses(engine) == [(DeliveryStatus.DEAD, 1)]
    with pytest.raises(UnknownEndpoint):
        delete_endpoint(engine, "alice", created.endpoint.id)


def test_rebinding_to_an_internal_address_is_refused_at_delivery(
        engine: Engine, master: bytes, receiver_factory: Callable[..., Any]) -> None:
    answers = {"now": ["93.184.216.34"]}

    def resolve(host: str, port: int) -> list[str]:
        return answers["now"]

    created = create_endpoint(engine, "alice", "https://hooks.example.com/x", master=master,
                              resolve=resolve)
    answers["now"] = ["169.254.169.254"]  # the name now points at cloud metadata
    _event(engine, "alice", 1)
    assert _dispatcher(engine, master, allow_loopback=False, resolve=resolve).dispatch_once(T0) == 0
    [attempt] = delivery_log(engine, "alice", created.endpoint.id)
    assert attempt.status_code is None and attempt.error.startswith("refused:")


def test_two_dispatchers_send_each_event_once(engine: Engine, master: bytes,
                                              receiver_factory: Callable[..., Any]) -> None:
    rec = receiver_factory()
    create_endpoint(engine, "alice", rec.url, master=master, allow_loopback=True)
    for n in range(12):
        _event(engine, "alice", n)
    a, b = _dispatcher(engine, master), _dispatcher(engine, master)
    threads = [threading.Thread(target=x.dispatch_once, args=(T0,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a.dispatch_once(T0)
    ids = [r["body"]["id"] for r in rec.requests]
    assert sorted(ids) == sorted(f"alice:{n}" for n in range(12))
    assert [s for s, _ in _statuses(engine)] == [DeliveryStatus.SENT] * 12


def test_a_trickling_endpoint_is_cut_at_the_deadline(engine: Engine, master: bytes) -> None:
    """An endpoint that answers one header byte at a time (each within the read timeout) is
    recorded as failed at the pass deadline instead of holding the dispatcher until it ends."""
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Trickle(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            try:
                for _ in range(60):  # 60 x 0.2 s: each byte well within the 1 s read timeout
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(0.2)
                self.wfile.write(b"-A: b\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/slow"
        created = create_endpoint(engine, "alice", url, master=master, allow_loopback=True)
        _event(engine, "alice", 1)
        assert _dispatcher(engine, master, timeout=1.0).dispatch_once(T0) == 0
        [attempt] = delivery_log(engine, "alice", created.endpoint.id)
        assert attempt.status_code is None and attempt.error == "deadline exceeded"
        assert _statuses(engine) == [(DeliveryStatus.PENDING, 1)]
    finally:
        server.shutdown()
        server.server_close()


def test_a_claim_left_by_a_crashed_dispatcher_is_delivered_after_it_lapses(
        engine: Engine, master: bytes, receiver_factory: Callable[..., Any]) -> None:
    rec = receiver_factory()
    create_endpoint(engine, "alice", rec.url, master=master, allow_loopback=True)
    _event(engine, "alice", 1)
    crashed = _dispatcher(engine, master)
    crashed.fan_out(T0)
    with engine.connect() as conn:
        row = conn.execute(select(_D.c.id, _D.c.attempts)).one()
    assert crashed._claim(row, T0)  # claimed, then the process died before sending
    survivor = _dispatcher(engine, master)
    assert survivor.dispatch_once(T0 + timedelta(seconds=59)) == 0  # the claim still holds
    assert rec.requests == []
    assert survivor.dispatch_once(T0 + timedelta(seconds=60)) == 1
    assert [r["body"]["id"] for r in rec.requests] == ["alice:1"]
    assert _statuses(engine) == [(DeliveryStatus.SENT, 1)]


def test_a_backlog_of_one_client_does_not_starve_another(
        engine: Engine, master: bytes, receiver_factory: Callable[..., Any]) -> None:
    busy, quiet = receiver_factory(), receiver_factory()
    create_endpoint(engine, "busyco", busy.url, master=master, allow_loopback=True)
    create_endpoint(engine, "quietco", quiet.url, master=master, allow_loopback=True)
    for n in range(30):
        _event(engine, "busyco", n)
    _event(engine, "quietco", 99)  # due after all of busyco's
    d = _dispatcher(engine, master, batch=20, per_endpoint=5)
    d.dispatch_once(T0)
    assert [r["body"]["id"] for r in quiet.requests] == ["quietco:99"]
    assert len(busy.requests) == 5  # the busy endpoint gets its own share, in order
    assert [r["body"]["id"] for r in busy.requests] == [f"busyco:{n}" for n in range(5)]
