"""The two-PSBT fee attack on segwit v0 (CVE-2020-14199 class) against our cosigners.

A compromised coordinator builds one transaction spending inputs A and B and shows each
cosigner run a PSBT that lies about a different input's amount (``witness_utxo``): each run
displays a small fee, and the signature over the input it did *not* lie about is valid on chain.
Assembling the valid halves would release a transaction whose fee nobody was shown. The cosigner
must take input amounts from the full previous transaction (``non_witness_utxo``, txid-checked),
so every lying PSBT is refused and nothing above the shown fee can be assembled.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bitcointx.core import CMutableTransaction, CTransaction, CTxOut, b2lx
from bitcointx.core.psbt import PartiallySignedTransaction
from bitcointx.core.script import CScript

from keeper.btc import (
    REGTEST,
    KeyCosigner,
    MultisigWallet,
    PsbtError,
    UnverifiableInputError,
    finalize,
    load_psbt,
)
from keeper.btc.cosigner import main
from keeper.btc.wallet import address_to_script

DEST = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
MAX_FEE = 20_000


def _attack_psbt(honest: PartiallySignedTransaction, lie: int | None, lie_value: int,
                 forge_prev_tx: bool, pay: int) -> PartiallySignedTransaction:
    """The attacker's transaction (same inputs as ``honest``, one output of ``pay`` sats);
    input ``lie`` claims ``lie_value`` sats, optionally with a forged previous transaction."""
    tx = CMutableTransaction.from_instance(honest.unsigned_tx)
    tx.vout = [CTxOut(pay, CScript(address_to_script(DEST, REGTEST)))]
    psbt = PartiallySignedTransaction(unsigned_tx=tx.to_immutable())
    for i, (src, dst) in enumerate(zip(honest.inputs, psbt.inputs, strict=True)):
        dst.witness_script = src.witness_script
        dst.derivation_map.update(src.derivation_map)
        true_out = src.witness_utxo
        prev_tx = src.utxo if isinstance(src.utxo, CTransaction) else None
        if i != lie:
            dst.set_utxo(prev_tx or true_out, psbt.unsigned_tx)
            continue
        lying_out = CTxOut(lie_value, true_out.scriptPubKey)
        if forge_prev_tx and prev_tx is not None:
            forged = CMutableTransaction.from_instance(prev_tx)
            forged.vout[tx.vin[i].prevout.n] = lying_out
            dst.set_utxo(forged.to_immutable(), psbt.unsigned_tx, relaxed_sanity_checks=True)
        else:
            dst.set_utxo(lying_out, psbt.unsigned_tx)  # full previous transaction stripped
    return psbt


def _sign_via_cli(psbt: PartiallySignedTransaction, path: Path, desc: str, signer_args: list[str]
                  ) -> PartiallySignedTransaction | None:
    path.write_bytes(psbt.serialize())
    rc = main(["sign", str(path), "--descriptor", desc, "--max-fee", str(MAX_FEE), *signer_args])
    if rc != 0:
        return None
    return load_psbt(path.read_bytes(), REGTEST)


@pytest.mark.parametrize("forge_prev_tx", [False, True], ids=["stripped", "forged-prev-tx"])
def test_two_lying_psbts_cannot_assemble_a_fee_nobody_was_shown(
        warm, cosigners, chain, tmp_path, forge_prev_tx):
    wallet = MultisigWallet(warm, chain, lookahead=5)
    chain.fund(bytes(warm.script_pubkey(0, 0)), 200_000)
    chain.fund(bytes(warm.script_pubkey(0, 1)), 100_000)
    honest = wallet.create_psbt([(DEST, 250_000)], fee_rate=2)
    assert len(honest.inputs) == 2
    values = [u.nValue for u in (i.witness_utxo for i in honest.inputs)]
    pay = sum(values) - 60_000  # true fee: 60,000 sat, three times the cosigners' ceiling
    # each lie makes the displayed fee 10,000 sat
    lies = [_attack_psbt(honest, j, values[j] - 50_000, forge_prev_tx, pay) for j in (0, 1)]
    truth = _attack_psbt(honest, None, 0, False, pay)

    xprv = tmp_path / "cosigner.xprv"
    xprv.write_text(cosigners.masters[0].serialize())
    cfg = cosigners.hsm.config
    signers = [["--xprv-file", str(xprv)],
               ["--hsm-conf", str(cfg.conf), "--hsm-pin-file", str(cfg.pin.file)]]
    desc = warm.to_string(0)
    signed: dict[int, list[PartiallySignedTransaction]] = {0: [], 1: []}
    for j, lying in enumerate(lies):
        for k, args in enumerate(signers):
            out = _sign_via_cli(lying, tmp_path / f"lie{j}-{k}.psbt", desc, args)
            if out is not None:
                signed[j].append(out)

    # the attacker keeps, for each input, the signatures made where that input was NOT lied about
    for i, inp in enumerate(truth.inputs):
        for part in signed[1 - i]:
            inp.partial_sigs.update(part.inputs[i].partial_sigs)
    try:
        tx = finalize(truth)
    except PsbtError:
        tx = None
    if tx is not None:
        fee = sum(values) - sum(o.nValue for o in tx.vout)
        assert fee <= MAX_FEE, f"assembled a transaction paying {fee} sat fee ({b2lx(tx.GetTxid())})"
    assert signed == {0: [], 1: []}  # every lying PSBT was refused outright


def test_honest_psbt_carries_full_previous_transactions(warm, chain):
    wallet = MultisigWallet(warm, chain, lookahead=5)
    chain.fund(bytes(warm.script_pubkey(0, 0)), 200_000)
    psbt = load_psbt(wallet.create_psbt([(DEST, 50_000)], fee_rate=2).serialize(), REGTEST)
    for txin, inp in zip(psbt.unsigned_tx.vin, psbt.inputs, strict=True):
        prev = inp.utxo
        assert isinstance(prev, CTransaction)
        assert prev.GetTxid() == txin.prevout.hash
        assert prev.vout[txin.prevout.n].nValue == 200_000


def test_cosigner_api_refuses_unproven_amounts_before_signing(warm, cosigners, chain):
    wallet = MultisigWallet(warm, chain, lookahead=5)
    chain.fund(bytes(warm.script_pubkey(0, 0)), 200_000)
    chain.fund(bytes(warm.script_pubkey(0, 1)), 100_000)
    honest = wallet.create_psbt([(DEST, 250_000)], fee_rate=2)
    pay = 240_000
    stripped = _attack_psbt(honest, 0, 150_000, False, pay)
    with pytest.raises(UnverifiableInputError, match="no non_witness_utxo"):
        KeyCosigner(cosigners.hsm, warm, max_fee=MAX_FEE).sign(stripped)
    forged = _attack_psbt(honest, 1, 50_000, True, pay)
    with pytest.raises(UnverifiableInputError, match="not the one spent"):
        KeyCosigner(cosigners.hsm, warm, max_fee=MAX_FEE).sign(forged)
    assert all(not i.partial_sigs for p in (stripped, forged) for i in p.inputs)
