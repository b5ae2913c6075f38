"""PSBT lifecycle, cross-checked with embit (signing) and bdkpython (finalizing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import bdkpython as bdk
import pytest
from bitcointx.core import CMutableTransaction, CTxOut
from bitcointx.core.psbt import PartiallySignedTransaction
from embit import bip32
from embit.psbt import PSBT as EmbitPSBT  # noqa: N811

from keeper.btc import (
    REGTEST,
    HdCosigner,
    InsufficientFundsError,
    InvalidSignatureError,
    KeyCosigner,
    MultisigWallet,
    QuorumNotReachedError,
    SpendCoordinator,
    TransactionRejectedError,
    combine,
    finalize,
    load_psbt,
    summarize,
    verify_transaction,
)

DEST = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"  # P2WPKH, regtest


def _funded_wallet(desc, chain, values):
    wallet = MultisigWallet(desc, chain, lookahead=len(values) + 5)
    for i, v in enumerate(values):
        chain.fund(bytes(desc.script_pubkey(0, i)), v)
    return wallet


def _embit_sign(b64: str, seed: bytes) -> PartiallySignedTransaction:
    ep = EmbitPSBT.from_base64(b64)
    root = bip32.HDKey.from_seed(seed, version=bip32.NETWORKS["test"]["xprv"])
    assert ep.sign_with(root) > 0
    return load_psbt(ep.to_base64(), REGTEST)


def _prevouts(psbt):
    return [(bytes(i.witness_utxo.scriptPubKey), i.witness_utxo.nValue) for i in psbt.inputs]


def test_embit_plus_hsm_finalized_identically_to_bdk(warm, cosigners, chain):
    wallet = _funded_wallet(warm, chain, [60_000, 70_000, 80_000])
    psbt = wallet.create_psbt([(DEST, 150_000)], fee_rate=5)
    b64 = psbt.to_base64()
    by_embit = _embit_sign(b64, cosigners.seeds[0])
    by_hsm = load_psbt(b64, REGTEST)
    assert KeyCosigner(cosigners.hsm, warm).sign(by_hsm) == len(by_hsm.inputs)
    combined = combine(by_embit, by_hsm)
    combined_b64 = combined.to_base64()
    ours = finalize(combined)
    result = bdk.Psbt(combined_b64).finalize()
    assert result.could_finalize, result.errors
    theirs = bytes(result.psbt.extract_tx().serialize())
    assert ours.serialize() == theirs
    verify_transaction(ours, _prevouts(combined))
    from bitcointx.core import CTransaction
    verify_transaction(CTransaction.deserialize(theirs), _prevouts(combined))
    chain.broadcast(ours)
    assert any(u.value == 150_000 for u in chain.list_unspent([bytes.fromhex(
        "0014751e76e8199196d454941c45d1b3a323f1433bd6")]))


def test_cold_3_of_5_embit_hd_hsm(cold, cosigners, chain):
    wallet = _funded_wallet(cold, chain, [1_000_000, 2_000_000])
    psbt = wallet.create_psbt([(DEST, 2_500_000)], fee_rate=3)
    s = summarize(psbt, cold)
    assert [o.is_change for o in s.outputs] == [False, True]
    assert s.fee > 0 and s.inputs_total == 3_000_000
    assert s.inputs_total == s.fee + sum(o.amount for o in s.outputs)
    a = _embit_sign(psbt.to_base64(), cosigners.seeds[1])
    b = psbt.clone()
    HdCosigner(cosigners.masters[3], cold).sign(b)
    c = psbt.clone()
    KeyCosigner(cosigners.hsm, cold).sign(c)
    tx = finalize(combine(a, b, c))
    assert chain.broadcast(tx)
    # change came back to the wallet and is spendable by it
    assert any(wallet.locate(u.script_pubkey) == (1, 0) for u in wallet.utxos())


def test_tampered_output_is_rejected(warm, cosigners, chain):
    wallet = _funded_wallet(warm, chain, [100_000])
    psbt = wallet.create_psbt([(DEST, 50_000)], fee_rate=2)
    HdCosigner(cosigners.masters[0], warm).sign(psbt)
    KeyCosigner(cosigners.hsm, warm).sign(psbt)
    tx = CMutableTransaction.from_instance(psbt.unsigned_tx)
    tx.vout[0] = CTxOut(tx.vout[0].nValue + 10_000, tx.vout[0].scriptPubKey)
    tampered = load_psbt(psbt.to_base64(), REGTEST)
    tampered.unsigned_tx = tx.to_immutable()
    with pytest.raises(InvalidSignatureError):
        finalize(tampered)
    # a raw transaction tampered after finalizing is refused by the chain's script check
    good = finalize(psbt)
    bad = CMutableTransaction.from_instance(good)
    bad.vout[0] = CTxOut(good.vout[0].nValue - 1, good.vout[0].scriptPubKey)
    with pytest.raises(TransactionRejectedError):
        chain.broadcast(bad.to_immutable())
    assert chain.broadcast(good)


def test_dropped_signature_does_not_reach_quorum(cold, cosigners, chain):
    wallet = _funded_wallet(cold, chain, [500_000])
    psbt = wallet.create_psbt([(DEST, 100_000)], fee_rate=2)
    HdCosigner(cosigners.masters[0], cold).sign(psbt)
    HdCosigner(cosigners.masters[1], cold).sign(psbt)
    KeyCosigner(cosigners.hsm, cold).sign(psbt)
    pub = next(iter(psbt.inputs[0].partial_sigs))
    del psbt.inputs[0].partial_sigs[pub]
    with pytest.raises(QuorumNotReachedError):
        finalize(psbt)


def test_insufficient_funds_and_integer_amounts(warm, chain):
    wallet = _funded_wallet(warm, chain, [10_000])
    with pytest.raises(InsufficientFundsError):
        wallet.create_psbt([(DEST, 10_000)], fee_rate=1)
    with pytest.raises(ValueError):
        wallet.create_psbt([(DEST, 0.5)], fee_rate=1)  # type: ignore[list-item]


def test_pending_spend_expires_with_alert_and_is_never_broadcast(warm, cosigners, chain):
    wallet = _funded_wallet(warm, chain, [100_000, 100_000])
    alerts = []
    coord = SpendCoordinator(wallet, chain, lambda kind, data: alerts.append((kind, data)),
                             ttl=timedelta(hours=1))
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    spend = coord.propose([(DEST, 50_000)], 2, t0)
    other = coord.propose([(DEST, 50_000)], 2, t0)
    assert set(spend.outpoints).isdisjoint(other.outpoints)  # inputs are locked
    one = spend.psbt.clone()
    HdCosigner(cosigners.masters[0], warm).sign(one)
    coord.add_signatures(spend.id, one)
    assert coord.try_release(spend.id, t0 + timedelta(minutes=5)) is None  # 1 of 2
    accepted_before = len(chain.accepted)
    assert coord.expire(t0 + timedelta(hours=2)) == [spend.id, other.id]
    assert spend.status == "expired" and len(chain.accepted) == accepted_before
    assert alerts[0][0] == "btc.spend.expired" and alerts[0][1]["spend_id"] == spend.id
    # the expired spend's inputs are free again; a fully signed spend is released
    fresh = coord.propose([(DEST, 40_000)], 2, t0 + timedelta(hours=2))
    for signer in (HdCosigner(cosigners.masters[1], warm), KeyCosigner(cosigners.hsm, warm)):
        part = fresh.psbt.clone()
        signer.sign(part)
        coord.add_signatures(fresh.id, part)
    txid = coord.try_release(fresh.id, t0 + timedelta(hours=2, minutes=1))
    assert txid and fresh.status == "released"


def test_coordinator_rejects_a_bad_signature(warm, cosigners, chain):
    wallet = _funded_wallet(warm, chain, [100_000])
    coord = SpendCoordinator(wallet, chain, lambda *_: None)
    spend = coord.propose([(DEST, 50_000)], 2, datetime(2025, 1, 1, tzinfo=UTC))
    part = spend.psbt.clone()
    KeyCosigner(cosigners.hsm, warm).sign(part)
    pub, sig = next(iter(part.inputs[0].partial_sigs.items()))
    part.inputs[0].partial_sigs[pub] = sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]
    with pytest.raises(InvalidSignatureError):
        coord.add_signatures(spend.id, part)
