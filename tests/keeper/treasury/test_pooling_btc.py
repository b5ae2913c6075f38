"""BTC consolidation: many UTXOs -> one output through the coordinator, only below the fee
threshold and when the saving is positive; the PSBT read and signed by embit, finalized
identically by bdk, script-verified, accepted by the script-validating chain."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import bdkpython as bdk
import pytest
from bitcointx.core import CTransaction
from embit import bip32
from embit.psbt import PSBT as EmbitPSBT  # noqa: N811

from keeper.btc import (
    REGTEST,
    HdCosigner,
    LocalChain,
    MultisigDescriptor,
    MultisigWallet,
    SpendCoordinator,
    combine,
    load_psbt,
    ranged_key,
    verify_transaction,
)
from keeper.keys.hd import ExtendedPrivateKey
from keeper.treasury.pooling.btc import (
    input_vbytes,
    plan_consolidation,
    propose_consolidation,
)
from strongroom_testkit.dbtemplate import fresh_url

BIP48 = "m/48h/1h/0h/2h"
SEEDS = [hashlib.sha256(b"pooling-btc-cosigner-%d" % i).digest() for i in range(3)]
MASTERS = [ExtendedPrivateKey.from_seed(s) for s in SEEDS]
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def setup():
    desc = MultisigDescriptor(2, tuple(
        ranged_key(k.fingerprint(), BIP48, k.derive(BIP48).public().serialize())
        for k in MASTERS), REGTEST)
    chain = LocalChain()
    wallet = MultisigWallet(desc, chain, lookahead=80)
    values = [20_000 + 1_000 * i for i in range(40)] + [200, 250]  # 40 coins and 2 dust outputs
    for i, v in enumerate(values):
        chain.fund(bytes(desc.script_pubkey(0, i)), v)
    alerts: list = []
    coord = SpendCoordinator(wallet, chain, lambda *a: alerts.append(a))
    return desc, chain, wallet, coord, values


def _prevouts(psbt):
    return [(bytes(i.witness_utxo.scriptPubKey), i.witness_utxo.nValue) for i in psbt.inputs]


def test_consolidation_psbt_is_valid_script_verified_and_cross_checked(setup):
    desc, chain, wallet, coord, values = setup
    dest = desc.address(79, 0)  # one of the wallet's own receive addresses
    plan, spend = propose_consolidation(coord, dest, 3, NOW, max_fee_rate=5, typical_rate=25)
    assert plan.consolidate and spend is not None
    per_input = input_vbytes(wallet)
    assert (plan.utxos_total, plan.inputs, plan.uneconomic) == (42, 40, 2)
    assert plan.amount_in == sum(values[:40])
    assert plan.fee_now == 3 * plan.vsize and plan.amount_out == plan.amount_in - plan.fee_now
    assert plan.later_cost_unconsolidated == 40 * per_input * 25
    assert plan.saving == 39 * per_input * 25 - plan.fee_now > 0

    # an independent library reads the PSBT: 40 inputs, one output paying the planned amount
    b64 = spend.psbt.to_base64()
    theirs = EmbitPSBT.from_base64(b64)
    assert len(theirs.inputs) == 40 and len(theirs.outputs) == 1
    assert theirs.tx.vout[0].value == plan.amount_out
    assert sum(i.utxo.value for i in theirs.inputs) == plan.amount_in
    # ... and signs it as a cosigner (embit), the second cosigner signs with our HD code
    root = bip32.HDKey.from_seed(SEEDS[0], version=bip32.NETWORKS["test"]["xprv"])
    assert theirs.sign_with(root) == 40
    ours = load_psbt(b64, REGTEST)
    HdCosigner(MASTERS[2], desc).sign(ours)
    signed = combine(load_psbt(theirs.to_base64(), REGTEST), ours)
    coord.add_signatures(spend.id, signed)
    # bdk finalizes the same PSBT into byte-identical transaction bytes
    result = bdk.Psbt(coord.spends[spend.id].psbt.to_base64()).finalize()
    assert result.could_finalize, result.errors
    bdk_tx = bytes(result.psbt.extract_tx().serialize())
    txid = coord.try_release(spend.id, NOW)  # finalized, script-verified, broadcast
    assert txid is not None
    released = chain.get_transaction(txid)
    assert released.serialize() == bdk_tx
    verify_transaction(CTransaction.deserialize(bdk_tx), _prevouts(coord.spends[spend.id].psbt))
    # the wallet now holds one consolidated coin and the two dust outputs
    left = sorted(u.value for u in wallet.utxos())
    assert left == [200, 250, plan.amount_out]


def test_refused_when_fees_are_high_or_it_does_not_pay(setup):
    desc, chain, wallet, coord, _ = setup
    dest = desc.address(79, 0)
    plan, spend = propose_consolidation(coord, dest, 9, NOW, max_fee_rate=5, typical_rate=25)
    assert spend is None and not plan.consolidate
    assert plan.reason == "fee rate 9 sat/vB is above the consolidation threshold 5"
    assert coord.spends == {} and not chain.accepted
    # cheap now, but later fees no higher than now: consolidating costs more than it saves
    plan = plan_consolidation(wallet, dest, 5, max_fee_rate=5, typical_rate=5)
    assert not plan.consolidate and plan.saving <= 0 and plan.reason.startswith("not worth it")


def test_the_trade_off_turns_with_the_typical_rate(setup):
    desc, _, wallet, _, _ = setup
    dest = desc.address(79, 0)
    worth = [r for r in range(1, 30)
             if plan_consolidation(wallet, dest, 4, max_fee_rate=5, typical_rate=r).consolidate]
    assert worth and worth == list(range(worth[0], 30))  # worth it from some typical rate on
    assert worth[0] > 4  # never when later fees are expected no higher than now


def test_a_capped_batch_spends_exactly_the_planned_inputs_and_locks_them(setup):
    desc, _, _, coord, values = setup
    dest = desc.address(79, 0)
    plan, spend = propose_consolidation(coord, dest, 2, NOW, max_fee_rate=5, typical_rate=25,
                                        max_inputs=10)
    assert plan.inputs == 10 and spend is not None
    spent = {i.witness_utxo.nValue for i in spend.psbt.inputs}
    assert spent == set(sorted(values, reverse=True)[:10])
    # the next batch takes the next ten: the first batch's inputs are locked
    plan2, spend2 = propose_consolidation(coord, dest, 2, NOW, max_fee_rate=5, typical_rate=25,
                                          max_inputs=10)
    assert spend2 is not None
    assert {i.witness_utxo.nValue for i in spend2.psbt.inputs} == set(
        sorted(values, reverse=True)[10:20])


def test_every_decision_is_audited(setup, tmp_path):
    import io
    import json

    from sqlalchemy import create_engine

    from keeper.audit import AuditTrail
    from keeper.audit import upgrade as audit_upgrade

    desc, _, _, coord, _ = setup
    url = fresh_url(tmp_path / 'audit.db')
    audit_upgrade(url)
    engine = create_engine(url)
    dest = desc.address(79, 0)
    _, refused = propose_consolidation(coord, dest, 9, NOW, max_fee_rate=5, typical_rate=25,
                                       audit=engine)
    plan, spend = propose_consolidation(coord, dest, 3, NOW, max_fee_rate=5, typical_rate=25,
                                        audit=engine)
    out = io.StringIO()
    AuditTrail(engine).export(out)
    recs = [json.loads(line)["record"] for line in out.getvalue().splitlines()]
    assert [r["operation"] for r in recs] == ["treasury.pooling.btc_consolidation"] * 2
    assert recs[0]["result"] == {"spend": None} and recs[0]["params"]["consolidate"] is False
    assert recs[1]["result"] == {"spend": spend.id}
    assert recs[1]["params"]["saving"] == plan.saving and recs[1]["params"]["inputs"] == 40
    engine.dispose()
