"""TxSender on the fork with the SoftHSM "eth-hot" key, on SQLite and PostgreSQL: idempotent
sends, one nonce per intent, replacements under congestion, the fee ceiling, crash recovery and
two senders racing for nonces."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from keeper.chain import SenderConfig, TxSender
from keeper.chain.migrate import SCHEMA
from keeper.keys import Keyring
from keeper.keys.hsm import ensure_local_token
from strongroom_testkit.anvil import mine, revert, snapshot

GWEI = 10**9
BUMP_AFTER = 60
SINK = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture(scope="session")
def hot_ring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyring]:
    """A keyring holding the SoftHSM2 token's "eth-hot" key (created as set-up does)."""
    import shutil
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    ring = Keyring.from_hsm(ensure_local_token(tmp_path_factory.mktemp("hsm")),
                            labels=("eth-hot",))
    yield ring
    ring.close()


@pytest.fixture
def sender_db(database: Callable[[str], str]) -> str:
    """A database with the chain sender schema migrated (SQLite and PostgreSQL)."""
    url = database("sender")
    SCHEMA.upgrade(url)
    return url


@pytest.fixture
def make_sender(sender_db: str, w3: Any, hot_ring: Keyring, chain: Any):
    """``make_sender(**config)``: a new TxSender over the same database (as after a restart),
    its key funded with ETH; ``alerts`` collects what the senders raised."""
    alerts: list[tuple[str, str, str | None]] = []
    made: list[TxSender] = []
    chain.provider.set_balance(hot_ring.eth_address("eth-hot"), 10**21)

    def _make(max_fee_wei: int = 300 * GWEI, min_tip_wei: int = GWEI,
              confirmations: int = 1) -> TxSender:
        cfg = SenderConfig(max_fee_wei=max_fee_wei, bump_after_s=BUMP_AFTER,
                           min_tip_wei=min_tip_wei, confirmations=confirmations)
        sender = TxSender(sender_db, w3, hot_ring, "eth-hot", cfg,
                          on_alert=lambda *a: alerts.append(a))
        made.append(sender)
        return sender

    _make.alerts = alerts  # type: ignore[attr-defined]
    yield _make
    for sender in made:
        sender.close()


@pytest.fixture
def no_automine(w3: Any) -> Iterator[None]:
    """Blocks are mined only on request for the duration of the test."""
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        w3.provider.make_request("evm_setAutomine", [True])


def later(seconds: int = BUMP_AFTER + 1) -> datetime:
    """A tick time past the bump delay of the newest attempt (tick takes ``now``)."""
    return datetime.now(UTC) + timedelta(seconds=seconds)


def nonce_of(w3: Any, address: str) -> int:
    return int(w3.eth.get_transaction_count(address, "latest"))


def wait_receipt(w3: Any, hashes: tuple[str, ...], timeout_s: float = 30) -> Any:
    """The receipt of whichever of ``hashes`` is mined (automine lags a little under load)."""
    deadline = time.monotonic() + timeout_s
    while True:
        for tx_hash in hashes:
            receipt = receipt_or_none(w3, tx_hash)
            if receipt is not None:
                return receipt
        if time.monotonic() > deadline:
            raise AssertionError(f"none of {hashes} mined")
        time.sleep(0.05)


def settled_tick(sender: TxSender) -> list[Any]:
    """``sender.tick()`` once each pending intent has a receipt (automine, under load)."""
    with sender.engine.connect() as conn:
        ids = conn.execute(text("SELECT intent_id FROM chain_intents WHERE state = 'pending'"))
        for (intent_id,) in ids.all():
            wait_receipt(sender.w3, sender.status(intent_id).hashes)
    return sender.tick()


def receipt_or_none(w3: Any, tx_hash: str) -> Any:
    try:
        return w3.eth.get_transaction_receipt(tx_hash)
    except Exception:  # noqa: BLE001 - TransactionNotFound
        return None


def test_send_is_idempotent_and_mined_once(make_sender, w3):
    sender = make_sender()
    before, sink_before = nonce_of(w3, sender.address), w3.eth.get_balance(SINK)
    first = sender.send("pay-1", SINK, b"", value=12345)
    again = sender.send("pay-1", SINK, b"", value=12345)
    assert again.hashes == first.hashes and again.nonce == first.nonce == before
    [done] = settled_tick(sender)
    assert done.state == "mined" and done.mined_hash == first.hashes[0]
    assert done.block_number == w3.eth.get_transaction_receipt(first.hashes[0])["blockNumber"]
    assert nonce_of(w3, sender.address) == before + 1
    assert w3.eth.get_balance(SINK) - sink_before == 12345
    assert sender.send("pay-1", SINK, b"", value=12345).state == "mined"
    with pytest.raises(ValueError, match="other content"):
        sender.send("pay-1", SINK, b"", value=12346)
    assert sender.tick() == []


def test_crash_between_store_and_broadcast_rebroadcasts_the_same_bytes(make_sender, w3):
    crashed = make_sender()
    before = nonce_of(w3, crashed.address)

    def crash(raw: bytes, intent_id: str) -> None:
        raise SystemExit("killed after the commit, before the broadcast")

    crashed._broadcast = crash  # the process dies exactly between store and broadcast
    with pytest.raises(SystemExit):
        crashed.send("crash-1", SINK, b"", value=7)
    stored = crashed.status("crash-1")
    assert stored is not None and stored.state == "pending"
    assert receipt_or_none(w3, stored.hashes[0]) is None  # never reached the node
    assert nonce_of(w3, crashed.address) == before

    restarted = make_sender()
    assert restarted.tick() == []  # the restart's first tick re-broadcasts the stored bytes
    [done] = settled_tick(restarted)  # (automine) the next one finds them mined
    assert done.state == "mined"
    final = restarted.status("crash-1")
    assert final.state == "mined" and final.hashes == stored.hashes
    assert final.mined_hash == stored.hashes[0] and final.nonce == before
    assert nonce_of(w3, restarted.address) == before + 1
    # a retried send after the restart neither re-signs nor takes another nonce
    assert restarted.send("crash-1", SINK, b"", value=7).hashes == stored.hashes
    follow = restarted.send("crash-2", SINK, b"", value=1)
    assert follow.nonce == before + 1


def test_congestion_replacement_is_mined_and_the_original_never(make_sender, w3, no_automine):
    sender = make_sender()
    before = nonce_of(w3, sender.address)
    first = sender.send("slow-1", SINK, b"", value=99)
    assert sender.tick() == []  # not yet due for a bump: re-broadcast only
    [bumped] = sender.tick(later())
    assert bumped.state == "pending" and len(bumped.hashes) == 2 and bumped.delayed
    assert bumped.max_fee_wei * 8 >= first.max_fee_wei * 9
    assert bumped.tip_wei * 8 >= first.tip_wei * 9
    mine(w3)
    [done] = sender.tick()
    assert done.state == "mined" and done.mined_hash == bumped.hashes[1]
    assert receipt_or_none(w3, first.hashes[0]) is None
    assert nonce_of(w3, sender.address) == before + 1
    assert done.nonce == before


def test_a_replaced_hash_that_mines_is_recognised(make_sender, w3, no_automine):
    sender = make_sender()
    first = sender.send("old-wins", SINK, b"", value=5)
    [bumped] = sender.tick(later())
    assert len(bumped.hashes) == 2
    # another node mined the original: drop the replacement from our node, re-send the original
    with sender.engine.connect() as conn:
        raw0 = conn.execute(text("SELECT raw FROM chain_attempts WHERE tx_hash = :h"),
                            {"h": first.hashes[0]}).scalar()
    w3.provider.make_request("anvil_dropTransaction", [bumped.hashes[1]])
    w3.provider.make_request("eth_sendRawTransaction", ["0x" + bytes(raw0).hex()])
    mine(w3)
    assert receipt_or_none(w3, bumped.hashes[1]) is None
    [done] = sender.tick()
    assert done.state == "mined" and done.mined_hash == first.hashes[0]


def test_at_the_fee_ceiling_one_stuck_alert_and_no_replacement(make_sender, w3, no_automine):
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    ceiling = 2 * base + GWEI  # the first attempt already pays the ceiling
    sender = make_sender(max_fee_wei=ceiling)
    first = sender.send("stuck-1", SINK, b"", value=1)
    assert first.max_fee_wei == ceiling
    [stuck] = sender.tick(later())
    assert stuck.stuck and stuck.delayed and stuck.hashes == first.hashes
    assert sender.tick(later(3 * BUMP_AFTER)) == []
    alerts = [a for a in make_sender.alerts if a[0] == "tx_stuck"]
    assert len(alerts) == 1 and "stuck-1" in alerts[0][1]
    mine(w3)
    [done] = sender.tick()
    assert done.state == "mined" and done.mined_hash == first.hashes[0]


def test_a_send_reorged_out_before_its_confirmations_is_sent_again(make_sender, w3):
    sender = make_sender(confirmations=3)
    before = nonce_of(w3, sender.address)
    wait_receipt(w3, sender.send("warm-up", SINK, b"", value=1).hashes)  # mined before the snapshot
    snap = snapshot(w3)
    first = sender.send("reorg-1", SINK, b"", value=3)
    wait_receipt(w3, first.hashes)  # mined (automine)
    sender.tick()  # the warm-up is final; reorg-1 has 1 of 3 confirmations
    assert sender.status("reorg-1").state == "pending"
    # a reorg that drops its block (anvil_reorg keeps orphaned state on this fork: a snapshot
    # revert rewinds the chain for real, as the follower's reorg tests do)
    revert(w3, snap)
    mine(w3, 3)
    assert receipt_or_none(w3, first.hashes[0]) is None
    sender.tick()  # no receipt, nonce not spent: the same bytes again
    assert sender.status("reorg-1").state == "pending"
    wait_receipt(w3, first.hashes)
    mine(w3, 2)
    [done] = sender.tick()
    assert done.state == "mined" and done.hashes == first.hashes
    assert nonce_of(w3, sender.address) == before + 2


def test_an_unfunded_key_is_alerted_and_the_send_goes_out_once_funded(make_sender, w3, chain):
    sender = make_sender()
    chain.provider.set_balance(sender.address, 10**9)  # far too little for any gas
    first = sender.send("unfunded-1", SINK, b"", value=1, gas=21_000)
    assert receipt_or_none(w3, first.hashes[0]) is None
    assert sender.tick() == []
    unfunded = [a for a in make_sender.alerts if a[0] == "tx_unfunded"]
    assert unfunded and unfunded[0][2] == "tx_unfunded:unfunded-1"
    assert sender.address in unfunded[0][1]
    chain.provider.set_balance(sender.address, 10**20)
    sender.tick()  # the same bytes again, now accepted
    [done] = settled_tick(sender)
    assert done.state == "mined" and done.hashes == first.hashes


def test_two_senders_racing_never_share_a_nonce(make_sender, w3):
    senders = [make_sender(), make_sender()]
    start = nonce_of(w3, senders[0].address)
    per_sender = 6
    errors: list[BaseException] = []
    gate = threading.Barrier(len(senders))

    def run(k: int) -> None:
        try:
            gate.wait()
            for i in range(per_sender):
                senders[k].send(f"race-{k}-{i}", SINK, b"", value=1, gas=21_000)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(senders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    settled_tick(senders[0])
    ids = [f"race-{k}-{i}" for k in range(len(senders)) for i in range(per_sender)]
    sent = [senders[1].status(i) for i in ids]
    nonces = sorted(s.nonce for s in sent)
    assert nonces == list(range(start, start + len(ids)))
    assert all(s.state == "mined" for s in sent)
    assert nonce_of(w3, senders[0].address) == start + len(ids)


def test_unknown_intent_and_bad_input_change_nothing(make_sender, sender_db):
    sender = make_sender()
    assert sender.status("nope") is None
    for bad in (dict(value=-1), dict(value=1.5)):
        with pytest.raises(ValueError):
            sender.send("bad", SINK, b"", **bad)
    with pytest.raises(ValueError):
        sender.send("", SINK, b"")
    engine = create_engine(sender_db)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM chain_intents")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM chain_nonces")).scalar() == 0
    engine.dispose()
