"""Cosigner CLI: show what a PSBT pays and sign it (software xprv and HSM)."""

from __future__ import annotations

import hashlib
import os

import coincurve

from keeper.btc import REGTEST, MultisigDescriptor, MultisigWallet, finalize, fixed_key, load_psbt
from keeper.btc.cosigner import main
from keeper.keys.hsm import ensure_local_token

DEST = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


def test_show_then_sign_with_xprv_and_hsm(warm, cosigners, chain, tmp_path, capsys):
    wallet = MultisigWallet(warm, chain, lookahead=5)
    chain.fund(bytes(warm.script_pubkey(0, 0)), 200_000)
    psbt = wallet.create_psbt([(DEST, 120_000)], fee_rate=4)
    path = tmp_path / "spend.psbt"
    path.write_text(psbt.to_base64())
    desc = warm.to_string(0)

    assert main(["show", str(path), "--descriptor", desc]) == 0
    out = capsys.readouterr().out
    fee = 200_000 - sum(o.nValue for o in psbt.unsigned_tx.vout)
    assert f"pay    {DEST} 120000 sat" in out
    assert "change bcrt1q" in out and f"fee: {fee} sat" in out

    xprv = tmp_path / "cosigner.xprv"
    fd = os.open(xprv, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, cosigners.masters[0].serialize().encode())
    os.close(fd)
    assert main(["sign", str(path), "--descriptor", desc, "--xprv-file", str(xprv)]) == 0
    assert cosigners.masters[0].serialize() not in capsys.readouterr().out

    cfg = cosigners.hsm.config
    assert main([
        "sign", str(path), "--descriptor", desc, "--hsm-conf", str(cfg.conf),
        "--hsm-pin-file", str(cfg.pin.file), "--hsm-key", "btc-cosigner",
    ]) == 0
    signed = load_psbt(path.read_text(), REGTEST)
    assert chain.broadcast(finalize(signed))


def test_sign_refuses_excessive_fee(warm, cosigners, chain, tmp_path):
    wallet = MultisigWallet(warm, chain, lookahead=5)
    chain.fund(bytes(warm.script_pubkey(0, 0)), 200_000)
    psbt = wallet.create_psbt([(DEST, 100_000)], fee_rate=50)
    path = tmp_path / "spend.psbt"
    path.write_text(psbt.to_base64())
    xprv = tmp_path / "k"
    xprv.write_text(cosigners.masters[0].serialize())
    rc = main(["sign", str(path), "--descriptor", warm.to_string(0), "--xprv-file", str(xprv),
               "--max-fee", "1000"])
    assert rc == 2
    assert load_psbt(path.read_text(), REGTEST).inputs[0].partial_sigs == {}


def test_hsm_sign_refuses_a_token_whose_key_is_not_the_descriptors(warm, chain, tmp_path, capsys):
    """A swapped token (same labels, other key material) is refused before anything is signed:
    the CLI pins the HSM key to the descriptor's fixed key, not to whatever the token shows."""
    impostor = ensure_local_token(tmp_path / "impostor")
    wallet = MultisigWallet(warm, chain, lookahead=5)
    chain.fund(bytes(warm.script_pubkey(0, 0)), 200_000)
    path = tmp_path / "spend.psbt"
    path.write_text(wallet.create_psbt([(DEST, 120_000)], fee_rate=4).to_base64())
    before = path.read_bytes()
    capsys.readouterr()
    rc = main([
        "sign", str(path), "--descriptor", warm.to_string(0), "--hsm-conf", str(impostor.conf),
        "--hsm-pin-file", str(impostor.pin.file), "--hsm-key", "btc-cosigner",
    ])
    err = capsys.readouterr().err
    assert rc == 2
    assert "not the pinned" in err
    assert path.read_bytes() == before  # nothing written


def test_hsm_sign_needs_a_fixed_key_in_the_descriptor(descriptor_factory, cosigners, tmp_path,
                                                        capsys):
    """An all-HD descriptor has no key an HSM could hold: refused, nothing to pin to."""
    desc = descriptor_factory(2, 3, False)
    path = tmp_path / "spend.psbt"
    path.write_text("not read")
    cfg = cosigners.hsm.config
    rc = main(["sign", str(path), "--descriptor", desc.to_string(0), "--hsm-conf", str(cfg.conf),
               "--hsm-pin-file", str(cfg.pin.file)])
    assert rc == 2
    assert "fixed" in capsys.readouterr().err


def test_hsm_key_is_named_when_the_descriptor_has_several_fixed_keys(
        descriptor_factory, cosigners, chain, tmp_path, capsys):
    """Two fixed keys (the HSM's and another): which one the token must hold is not guessed."""
    other = coincurve.PrivateKey(hashlib.sha256(b"another fixed cosigner").digest())
    hsm_pub = cosigners.hsm.public_key()
    desc = MultisigDescriptor(2, (*descriptor_factory(2, 1, True).keys,
                                  fixed_key(other.public_key.format())), REGTEST)
    wallet = MultisigWallet(desc, chain, lookahead=5)
    chain.fund(bytes(desc.script_pubkey(0, 0)), 200_000)
    path = tmp_path / "spend.psbt"
    path.write_text(wallet.create_psbt([(DEST, 120_000)], fee_rate=4).to_base64())
    cfg = cosigners.hsm.config
    base = ["sign", str(path), "--descriptor", desc.to_string(0), "--hsm-conf", str(cfg.conf),
            "--hsm-pin-file", str(cfg.pin.file)]
    capsys.readouterr()
    assert main(base) == 2
    assert "2 fixed keys" in capsys.readouterr().err
    assert main([*base, "--hsm-pubkey", other.public_key.format().hex()]) == 2  # not the token's
    assert main([*base, "--hsm-pubkey", "02" + "ab" * 32]) == 2  # not in the descriptor
    assert main([*base, "--hsm-pubkey", hsm_pub.hex()]) == 0
    signed = load_psbt(path.read_text(), REGTEST)
    assert [len(i.partial_sigs) for i in signed.inputs] == [1]
