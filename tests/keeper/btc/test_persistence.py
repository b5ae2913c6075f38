"""The wallet never loses sight of its addresses, and a restart forgets nothing.

Pending spends (PSBT, locked inputs) and the receive/change counters live in the ``btc_*``
tables: after every Python object is dropped and the wallet is reopened from the database, the
inputs are still locked and the next change index is past the used one. Runs on SQLite and on a
throwaway PostgreSQL.
"""

from __future__ import annotations

import gc
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from bitcointx.core.key import BIP32Path, CPubKey
from bitcointx.core.psbt import PSBT_KeyDerivationInfo
from bitcointx.core.script import OP_CHECKMULTISIG, CScript
from bitcointx.wallet import CCoinExtPubKey

from keeper.btc import (
    BtcStore,
    HdCosigner,
    InsufficientFundsError,
    InvalidSignatureError,
    KeyCosigner,
    MultisigWallet,
    SpendCoordinator,
)
from keeper.btc.psbt import signature_status

DEST = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _create(url, desc, gap_limit):
    store = BtcStore(url)
    store.create_wallet("warm", desc, gap_limit=gap_limit)
    store.close()


def _open(url, chain, alerts=None):
    store = BtcStore(url)
    wallet = store.open_wallet("warm", chain)
    coord = SpendCoordinator(wallet, chain, lambda k, d: (alerts or []).append((k, d)),
                             ttl=timedelta(hours=1), store=store)
    return store, wallet, coord


def _change_index(wallet: MultisigWallet, psbt) -> int:
    locs = [wallet.locate(bytes(o.scriptPubKey)) for o in psbt.unsigned_tx.vout]
    (change,) = [loc for loc in locs if loc is not None and loc[0] == 1]
    return change[1]


def test_restart_keeps_locks_change_index_and_psbt(btc_url, warm, cosigners, chain):
    for i in range(3):
        chain.fund(bytes(warm.script_pubkey(0, i)), 100_000)
    _create(btc_url, warm, 5)
    store, wallet, coord = _open(btc_url, chain)
    spend = coord.propose([(DEST, 150_000)], 2, T0)
    spend_id, outpoints, b64 = spend.id, set(spend.outpoints), spend.psbt.to_base64()
    assert _change_index(wallet, spend.psbt) == 0
    part = spend.psbt.clone()
    HdCosigner(cosigners.masters[0], warm).sign(part)
    coord.add_signatures(spend_id, part)
    store.close()
    del store, wallet, coord, spend, part
    gc.collect()

    store, wallet, coord = _open(btc_url, chain)
    assert coord.locked() == outpoints
    assert wallet.next_change == 1
    restored = coord.spends[spend_id]
    assert restored.status == "pending" and restored.psbt.to_base64() != b64  # has the signature
    assert [n for n, _ in signature_status(restored.psbt)] == [1, 1]
    other = coord.propose([(DEST, 20_000)], 2, T0)
    assert set(other.outpoints).isdisjoint(outpoints)
    assert _change_index(wallet, other.psbt) == 1

    part = restored.psbt.clone()
    KeyCosigner(cosigners.hsm, warm).sign(part)
    coord.add_signatures(spend_id, part)
    txid = coord.try_release(spend_id, T0 + timedelta(minutes=1))
    assert txid and chain.get_transaction(txid)
    store.close()

    store, wallet, coord = _open(btc_url, chain)
    assert coord.spends[spend_id].status == "released" and coord.spends[spend_id].txid == txid
    assert coord.locked() == outpoints | set(other.outpoints)  # released inputs stay locked
    assert wallet.next_change == 2
    store.close()


def test_expiry_is_persisted_and_frees_the_inputs(btc_url, warm, chain):
    chain.fund(bytes(warm.script_pubkey(0, 0)), 100_000)
    _create(btc_url, warm, 5)
    alerts: list = []
    store, _, coord = _open(btc_url, chain, alerts)
    spend = coord.propose([(DEST, 50_000)], 2, T0)
    assert coord.expire(T0 + timedelta(hours=2)) == [spend.id]
    store.close()
    store, wallet, coord = _open(btc_url, chain)
    assert coord.spends[spend.id].status == "expired" and coord.locked() == set()
    again = coord.propose([(DEST, 50_000)], 2, T0 + timedelta(hours=2))
    assert again.outpoints == spend.outpoints
    assert _change_index(wallet, again.psbt) == 1  # an expired spend's change index stays burnt
    store.close()


def test_two_coordinators_on_one_database_never_share_inputs_or_change(btc_url, warm, chain):
    for i in range(2):
        chain.fund(bytes(warm.script_pubkey(0, i)), 100_000)
    _create(btc_url, warm, 5)
    a_store, a_wallet, a = _open(btc_url, chain)
    b_store, b_wallet, b = _open(btc_url, chain)  # opened before a proposes
    first = a.propose([(DEST, 50_000)], 2, T0)
    second = b.propose([(DEST, 50_000)], 2, T0)
    assert set(first.outpoints).isdisjoint(second.outpoints)
    assert {_change_index(a_wallet, first.psbt), _change_index(b_wallet, second.psbt)} == {0, 1}
    with pytest.raises(InsufficientFundsError):  # nothing left that is not locked
        b.propose([(DEST, 50_000)], 2, T0)
    # the refused proposal changed nothing, in memory or in the database
    assert b_wallet.next_change == 2 and len(b.spends) == 1
    fresh = BtcStore(btc_url)
    assert fresh.open_wallet("warm", chain).next_change == 2
    fresh.close()
    assert b.locked() == set(first.outpoints) | set(second.outpoints)
    a_store.close()
    b_store.close()


def test_gap_limit_window_advances_with_use_and_issued_addresses(btc_url, warm, chain):
    _create(btc_url, warm, 3)
    store, wallet, _ = _open(btc_url, chain)
    for i in (2, 5, 8):  # each within the gap of the previous one
        chain.fund(bytes(warm.script_pubkey(0, i)), 10_000)
    chain.fund(bytes(warm.script_pubkey(0, 20)), 10_000)  # beyond the gap: not yet watched
    assert sorted(wallet.locate(u.script_pubkey)[1] for u in wallet.utxos()) == [2, 5, 8]
    assert wallet.next_receive == 9  # funded addresses count as used, persisted
    issued = [store.issue_receive(wallet)[0] for _ in range(10)]
    assert issued == list(range(9, 19))
    assert sorted(wallet.locate(u.script_pubkey)[1] for u in wallet.utxos()) == [2, 5, 8, 20]
    store.close()
    store, wallet, _ = _open(btc_url, chain)
    assert wallet.next_receive == 21
    assert len(wallet.utxos()) == 4
    # an address handed out by another component (the deposit registry), reported here
    chain.fund(bytes(warm.script_pubkey(0, 40)), 10_000)
    store.advance("warm", 0, 38)
    store.advance("warm", 0, 30)  # never moves back
    store.close()
    store, wallet, _ = _open(btc_url, chain)
    assert wallet.next_receive == 38 and len(wallet.utxos()) == 5
    assert wallet.next_receive == 41
    store.close()


def test_reopen_refuses_a_different_descriptor(btc_url, warm, cold, chain):
    store = BtcStore(btc_url)
    store.create_wallet("warm", warm, gap_limit=5)
    with pytest.raises(ValueError, match="already exists"):
        store.create_wallet("warm", cold, gap_limit=5)
    assert store.open_wallet("warm", chain).descriptor == warm
    store.close()


def test_a_cosigner_contributes_signatures_and_nothing_else(btc_url, warm, cosigners, chain):
    """Fields a cosigner adds or alters (global xpubs, scripts, derivations) are not merged:
    hardware signers later shown the PSBT must see what the coordinator built."""
    chain.fund(bytes(warm.script_pubkey(0, 0)), 100_000)
    _create(btc_url, warm, 5)
    store, _, coord = _open(btc_url, chain)
    spend = coord.propose([(DEST, 50_000)], 2, T0)
    before = spend.psbt.to_base64()
    part = spend.psbt.clone()
    HdCosigner(cosigners.masters[0], warm).sign(part)
    sigs = dict(part.inputs[0].partial_sigs)
    hsm_pub = CPubKey(cosigners.hsm.public_key())
    part.inputs[0].witness_script = CScript([1, hsm_pub, 1, OP_CHECKMULTISIG])
    with warm.network.params():
        intruder = CCoinExtPubKey(cosigners.masters[4].derive("m/48h/1h/0h/2h").public().serialize())
    part.xpubs[intruder] = PSBT_KeyDerivationInfo(b"\x01\x02\x03\x04", BIP32Path([], is_partial=False))
    part.outputs[0].derivation_map[hsm_pub] = PSBT_KeyDerivationInfo(
        b"\x01\x02\x03\x04", BIP32Path([1, 7], is_partial=False))
    coord.add_signatures(spend.id, part)

    def without_sigs(psbt):
        clean = psbt.clone()
        for inp in clean.inputs:
            inp.partial_sigs.clear()
        return clean.to_base64()

    stored = coord.spends[spend.id].psbt
    assert dict(stored.inputs[0].partial_sigs) == sigs and without_sigs(stored) == before

    bad = spend.psbt.clone()  # a corrupted signature is refused and changes nothing
    KeyCosigner(cosigners.hsm, warm).sign(bad)
    pub, sig = next((k, v) for k, v in bad.inputs[0].partial_sigs.items() if k == hsm_pub)
    bad.inputs[0].partial_sigs[pub] = sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]
    with pytest.raises(InvalidSignatureError):
        coord.add_signatures(spend.id, bad)
    store.close()
    store, _, coord = _open(btc_url, chain)
    stored = coord.spends[spend.id].psbt
    assert dict(stored.inputs[0].partial_sigs) == sigs and without_sigs(stored) == before
    store.close()


def test_concurrent_proposers_take_distinct_inputs_and_change(btc_url, warm, chain):
    """Two processes' coordinators racing on one database (threads here, separate engines)."""
    n = 8
    for i in range(n):
        chain.fund(bytes(warm.script_pubkey(0, i)), 100_000)
    _create(btc_url, warm, n + 2)
    opened = [_open(btc_url, chain) for _ in range(2)]
    for _, wallet, _ in opened:
        wallet.utxos()  # warm the address window before the race
    start = threading.Barrier(2)
    results: list = []

    def run(coord):
        start.wait()
        for _ in range(n // 2):
            results.append(coord.propose([(DEST, 60_000)], 2, T0))

    threads = [threading.Thread(target=run, args=(c,)) for _, _, c in opened]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == n
    mine = opened[0][2]
    theirs = next(s for s in results if s.id not in mine.spends)
    assert mine.try_release(theirs.id, T0) is None  # a spend the other process proposed
    outpoints = [o for s in results for o in s.outpoints]
    assert len(outpoints) == len(set(outpoints)) == n  # every input locked exactly once
    changes = sorted(_change_index(opened[0][1], s.psbt) for s in results)
    assert changes == list(range(n))
    for store, _, _ in opened:
        store.close()


def test_the_whole_lifecycle_runs_in_worker_threads(btc_url, warm, cosigners, chain):
    """Keeper jobs and API handlers run in thread pools; python-bitcointx selects its classes
    per thread context, so every entry point must work off the main thread."""
    chain.fund(bytes(warm.script_pubkey(0, 0)), 100_000)
    _create(btc_url, warm, 5)
    store, _, coord = _open(btc_url, chain)
    with ThreadPoolExecutor(1) as pool:
        spend = pool.submit(coord.propose, [(DEST, 50_000)], 2, T0).result()
    for cosigner in (HdCosigner(cosigners.masters[1], warm), KeyCosigner(cosigners.hsm, warm)):
        part = spend.psbt.clone()
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(cosigner.sign, part).result() == 1
            pool.submit(coord.add_signatures, spend.id, part).result()
    with ThreadPoolExecutor(1) as pool:
        txid = pool.submit(coord.try_release, spend.id, T0 + timedelta(minutes=1)).result()
    assert txid and chain.get_transaction(txid)
    store.close()


class _Crashing:
    """A broadcaster whose process dies right before or right after the node takes the tx."""

    def __init__(self, chain, relay_first: bool):
        self.chain, self.relay_first = chain, relay_first

    def broadcast(self, tx):
        if self.relay_first:
            self.chain.broadcast(tx)
        raise _Crash


class _Crash(BaseException):
    pass


@pytest.mark.parametrize("relay_first", [True, False], ids=["after-relay", "before-relay"])
def test_crash_between_broadcast_and_bookkeeping_neither_loses_nor_repeats(
        btc_url, warm, cosigners, chain, relay_first):
    chain.fund(bytes(warm.script_pubkey(0, 0)), 100_000)
    _create(btc_url, warm, 5)
    store = BtcStore(btc_url)
    coord = SpendCoordinator(store.open_wallet("warm", chain), _Crashing(chain, relay_first),
                             lambda *_: None, ttl=timedelta(hours=1), store=store)
    spend = coord.propose([(DEST, 50_000)], 2, T0)
    for cosigner in (HdCosigner(cosigners.masters[0], warm), KeyCosigner(cosigners.hsm, warm)):
        part = spend.psbt.clone()
        cosigner.sign(part)
        coord.add_signatures(spend.id, part)
    with pytest.raises(_Crash):
        coord.try_release(spend.id, T0 + timedelta(minutes=1))
    store.close()
    del coord, store
    gc.collect()

    alerts: list = []
    store, _, coord = _open(btc_url, chain, alerts)
    assert coord.spends[spend.id].status == "broadcasting"
    assert len(chain.accepted) == (1 if relay_first else 0)
    txid = coord.try_release(spend.id, T0 + timedelta(minutes=2))
    assert txid == chain.accepted[0].GetTxid()[::-1].hex()
    assert coord.spends[spend.id].status == "released" and len(chain.accepted) == 1
    assert coord.expire(T0 + timedelta(days=1)) == [] and alerts == []  # never "expired"
    store.close()


@pytest.mark.postgres
def test_spend_times_read_back_in_utc_whatever_the_session_zone(pg_cluster, warm, chain):
    """A PostgreSQL session in another time zone hands back aware local times: the store
    normalises them to UTC (the one rule, ``keeper.ledger.domain.utc``), as SQLite's naive ones."""
    from keeper.btc.migrate import upgrade
    from keeper.ledger import make_engine

    url = pg_cluster.create_database("btc_tz")
    upgrade(url)
    chain.fund(bytes(warm.script_pubkey(0, 0)), 100_000)
    _create(url, warm, 5)
    tokyo = make_engine(url, connect_args={"options": "-c timezone=Asia/Tokyo"})
    store = BtcStore(tokyo)
    wallet = store.open_wallet("warm", chain)
    coord = SpendCoordinator(wallet, chain, lambda k, d: None, ttl=timedelta(hours=1), store=store)
    spend = coord.propose([(DEST, 50_000)], 2, T0)
    (row,) = store.load_spends(wallet)
    assert row["id"] == spend.id
    assert row["created_at"] == T0 and row["expires_at"] == T0 + timedelta(hours=1)
    assert row["created_at"].tzinfo is UTC and row["expires_at"].tzinfo is UTC
    tokyo.dispose()
