"""What a Coldcard/Trezor-class signer needs, read back with HWI's own PSBT parser (hwilib).

Every PSBT carries ``PSBT_GLOBAL_XPUB`` for every HD cosigner (account xpub, master fingerprint,
origin path), so a device can verify that change really goes back to the multisig, and
``non_witness_utxo`` for every input, so it can verify amounts. The HSM cosigner's key is a
fixed, non-HD key: it has no xpub and is absent from the map (see ``MultisigWallet``).
"""

from __future__ import annotations

import pytest
from embit import base58
from embit.psbt import PSBT as EmbitPSBT  # noqa: N811
from hwilib.psbt import PSBT as HwiPSBT  # noqa: N811

from keeper.btc import HdCosigner, KeyCosigner, MultisigWallet, finalize, load_psbt

DEST = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


@pytest.mark.parametrize("name", ["warm", "cold"])
def test_hwi_reads_global_xpubs_and_full_previous_transactions(request, chain, name):
    desc = request.getfixturevalue(name)
    wallet = MultisigWallet(desc, chain, lookahead=5)
    chain.fund(bytes(desc.script_pubkey(0, 0)), 300_000)
    chain.fund(bytes(desc.script_pubkey(0, 2)), 300_000)
    psbt = wallet.create_psbt([(DEST, 450_000)], fee_rate=3)
    hwi = HwiPSBT()
    hwi.deserialize(psbt.to_base64())

    ranged = [k for k in desc.keys if k.xpub is not None]
    expected = {base58.decode_check(k.xpub.serialize()): (k.fingerprint, list(k.origin))
                for k in ranged}
    assert {x: (o.fingerprint, list(o.path)) for x, o in hwi.xpub.items()} == expected
    assert len(hwi.xpub) == len(desc.keys) - 1  # the HSM's fixed key has no xpub

    assert len(hwi.inputs) == 2
    for txin, inp in zip(hwi.tx.vin, hwi.inputs, strict=True):
        assert inp.non_witness_utxo is not None
        inp.non_witness_utxo.rehash()
        assert inp.non_witness_utxo.sha256 == txin.prevout.hash
        assert inp.non_witness_utxo.vout[txin.prevout.n].nValue == 300_000
        assert inp.witness_utxo is not None and inp.witness_script
    change = hwi.outputs[-1]
    # a device derives each change key from a global xpub + the path suffix after its origin
    assert {o.fingerprint for o in change.hd_keypaths.values()} >= {k.fingerprint for k in ranged}


def test_global_xpubs_survive_every_parser_and_signing(warm, cosigners, chain):
    wallet = MultisigWallet(warm, chain, lookahead=5)
    chain.fund(bytes(warm.script_pubkey(0, 1)), 200_000)
    b64 = wallet.create_psbt([(DEST, 50_000)], fee_rate=2).to_base64()
    ours = load_psbt(b64, warm.network)
    assert len(ours.xpubs) == 2
    assert ours.to_base64() == b64  # tpub prefixes kept (no silent xpub rewrite)
    emb = EmbitPSBT.from_base64(b64)
    assert {x.to_base58() for x in emb.xpubs} == {
        k.xpub.serialize() for k in warm.keys if k.xpub is not None}
    HdCosigner(cosigners.masters[1], warm).sign(ours)
    KeyCosigner(cosigners.hsm, warm).sign(ours)
    assert chain.broadcast(finalize(load_psbt(ours.to_base64(), warm.network)))
