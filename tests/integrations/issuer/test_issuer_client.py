"""The issuer client against failures of the network itself (no chain): a server that accepts
connections and never answers, a port nobody listens on, ids that could rewrite the path."""

from __future__ import annotations

import socket
import threading

import pytest

from keeper.integrations.issuer import IssuerClient, IssuerUnavailable, new_idempotency_key
from keeper.keys.secrets import Secret
from strongroom_testkit import free_port

API_KEY = "k" * 32


@pytest.fixture
def silent_server():
    """A loopback server that accepts every connection and never replies."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", held
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_a_silent_issuer_times_out_into_unavailable_after_every_retry(silent_server):
    url, held = silent_server
    sleeps: list[float] = []
    client = IssuerClient(url, Secret(API_KEY), timeout_s=0.2, retries=2, backoff_s=0.01,
                          sleep=sleeps.append)
    with pytest.raises(IssuerUnavailable) as err:
        client.create_mint(units=1, destination_address="0x" + "11" * 20, reference="R",
                           idempotency_key=new_idempotency_key())
    assert "Timeout" in str(err.value) and API_KEY not in str(err.value)
    assert sleeps == [0.01, 0.02] and len(held) >= 1  # three attempts, doubling backoff
    assert API_KEY not in repr(client)


def test_nobody_listening_is_unavailable_and_bad_input_never_reaches_the_wire():
    client = IssuerClient(f"http://127.0.0.1:{free_port()}", Secret(API_KEY), retries=1,
                          sleep=lambda _: None)
    with pytest.raises(IssuerUnavailable):
        client.reserves()
    for bad_id in ("../admin/faults", "a/b", "", "x?y=1"):
        with pytest.raises(ValueError):
            client.get_mint(bad_id)
    with pytest.raises(ValueError):  # not a UUID: refused before sending
        client.create_mint(units=1, destination_address="0x" + "11" * 20, reference="R",
                           idempotency_key="not-a-uuid")
    with pytest.raises(ValueError):
        client.create_mint(units=0, destination_address="0x" + "11" * 20, reference="R",
                           idempotency_key=new_idempotency_key())
