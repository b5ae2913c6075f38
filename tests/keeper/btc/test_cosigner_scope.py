"""A cosigner signs only inputs whose witness script re-derives from ITS descriptor.

The same seeds back several wallets (warm 2-of-3 with the HSM, a 2-of-3 without it); a PSBT
that mixes a foreign wallet's input into a warm spend must get signatures on the warm input only,
whatever key paths the PSBT claims, and ``show`` must list every input, foreign ones marked.
"""

from __future__ import annotations

from bitcointx.core import CMutableTransaction, CTransaction
from bitcointx.core.key import BIP32Path
from bitcointx.core.psbt import PartiallySignedTransaction, PSBT_KeyDerivationInfo

from keeper.btc import MultisigWallet, load_psbt, summarize
from keeper.btc.cosigner import main

DEST = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def _merge(a: PartiallySignedTransaction, b: PartiallySignedTransaction
           ) -> PartiallySignedTransaction:
    """One unsigned PSBT spending the inputs of ``a`` then ``b`` to the outputs of both."""
    tx = CMutableTransaction.from_instance(a.unsigned_tx)
    tx.vin = [*a.unsigned_tx.vin, *b.unsigned_tx.vin]
    tx.vout = [*a.unsigned_tx.vout, *b.unsigned_tx.vout]
    out = PartiallySignedTransaction(unsigned_tx=tx.to_immutable())
    for dst, src in zip(out.inputs, [*a.inputs, *b.inputs], strict=True):
        dst.set_utxo(src.utxo, out.unsigned_tx)
        dst.witness_script = src.witness_script
        dst.derivation_map.update(src.derivation_map)
    for dst, src in zip(out.outputs, [*a.outputs, *b.outputs], strict=True):
        dst.witness_script = src.witness_script
        dst.derivation_map.update(src.derivation_map)
    return out


def _mixed(warm, foreign, chain):
    chain.fund(bytes(warm.script_pubkey(0, 0)), 100_000)
    chain.fund(bytes(foreign.script_pubkey(0, 0)), 100_000)
    ours = MultisigWallet(warm, chain, lookahead=3).create_psbt([(DEST, 40_000)], fee_rate=2)
    theirs = MultisigWallet(foreign, chain, lookahead=3).create_psbt([(DEST, 40_000)], 2)
    return _merge(ours, theirs)


def _write(psbt: PartiallySignedTransaction, path):
    path.write_text(psbt.to_base64())
    return path


def test_cli_signs_only_inputs_of_its_descriptor(warm, descriptor_factory, cosigners, chain,
                                                   tmp_path, capsys):
    foreign = descriptor_factory(2, 3, False)  # same seeds, no HSM: a different wallet
    path = _write(_mixed(warm, foreign, chain), tmp_path / "mixed.psbt")
    assert main(["show", str(path), "--descriptor", warm.to_string(0)]) == 0
    shown = capsys.readouterr().out
    assert shown.count("input ") == 2
    assert "ours 0/0" in shown and "FOREIGN" in shown

    xprv = tmp_path / "k"
    xprv.write_text(cosigners.masters[0].serialize())
    main(["sign", str(path), "--descriptor", warm.to_string(0), "--xprv-file", str(xprv)])
    signed = load_psbt(path.read_bytes(), warm.network)
    assert len(signed.inputs[0].partial_sigs) == 1
    assert signed.inputs[1].partial_sigs == {}  # the foreign input got nothing


def test_lying_paths_do_not_steer_the_hd_cosigner(warm, cosigners, chain, tmp_path):
    """Derivation paths claiming another index (or any other path) for our key sign nothing."""
    chain.fund(bytes(warm.script_pubkey(0, 3)), 100_000)
    psbt = MultisigWallet(warm, chain, lookahead=5).create_psbt([(DEST, 40_000)], fee_rate=2)
    inp = psbt.inputs[0]
    for pub, info in list(inp.derivation_map.items()):
        path = list(info.path)
        if not path:
            continue  # the HSM's fixed key has no path
        path[-1] = 4
        inp.derivation_map[pub] = PSBT_KeyDerivationInfo(
            info.master_fp, BIP32Path(path, is_partial=False))
    path = _write(psbt, tmp_path / "lie.psbt")
    xprv = tmp_path / "k"
    xprv.write_text(cosigners.masters[0].serialize())
    main(["sign", str(path), "--descriptor", warm.to_string(0), "--xprv-file", str(xprv)])
    assert load_psbt(path.read_bytes(), warm.network).inputs[0].partial_sigs == {}


def test_summary_lists_inputs_with_their_origin(warm, descriptor_factory, chain):
    foreign = descriptor_factory(2, 3, False)
    psbt = _mixed(warm, foreign, chain)
    s = summarize(psbt, warm)
    assert [i.owned for i in s.inputs] == [(0, 0), None]
    assert [i.amount for i in s.inputs] == [100_000, 100_000]
    prev = psbt.inputs[1].utxo
    assert isinstance(prev, CTransaction)
    assert s.inputs[1].txid == prev.GetTxid()[::-1].hex()
