"""Descriptors: BIP380 checksums and addresses agree with bdkpython and embit."""

from __future__ import annotations

import bdkpython as bdk
import coincurve
import pytest
from embit.descriptor import Descriptor as EmbitDescriptor
from embit.networks import NETWORKS
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.btc import (
    REGTEST,
    TESTNET,
    MultisigDeriver,
    MultisigDescriptor,
    descriptor_checksum,
    fixed_key,
)


@pytest.mark.parametrize(("m", "n_soft", "hsm"), [(3, 4, True), (2, 2, True), (3, 5, False)])
def test_addresses_match_bdk_and_embit(descriptor_factory, m, n_soft, hsm):
    ours = descriptor_factory(m, n_soft, hsm)
    text = ours.to_string(0)
    theirs = bdk.Descriptor(text, bdk.NetworkKind.TEST)
    assert str(theirs) == text  # same normal form, same checksum
    emb = EmbitDescriptor.from_string(text.split("#")[0])
    for i in (0, 1, 17, 1000):
        addr = ours.address(i)
        assert addr == str(theirs.derive_address(i, bdk.Network.REGTEST))
        assert addr == emb.derive(i).address(NETWORKS["regtest"])
        assert addr.startswith("bcrt1q")


def test_network_is_a_parameter(warm):
    reg = warm
    tn = MultisigDescriptor(reg.threshold, reg.keys, TESTNET)
    assert tn.address(3).startswith("tb1q")
    assert tn.script_pubkey(0, 3) == reg.script_pubkey(0, 3)


def test_parse_roundtrip_and_checksum_enforced(cold):
    text = cold.to_string(1)
    parsed, branch = MultisigDescriptor.parse(text, REGTEST)
    assert branch == 1 and parsed.to_string(1) == text
    body, chk = text.split("#")
    bad = chk[:-1] + ("q" if chk[-1] != "q" else "p")
    with pytest.raises(ValueError, match="checksum"):
        MultisigDescriptor.parse(f"{body}#{bad}", REGTEST)
    with pytest.raises(ValueError):
        MultisigDescriptor.parse(text.replace("tpub", "tprv", 1).split("#")[0], REGTEST)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["pk", "pkh", "wpkh"]), st.integers(1, 10**6))
def test_checksum_matches_bdk(kind, salt):
    key = coincurve.PrivateKey.from_int(salt).public_key.format().hex()
    desc = f"{kind}({key})"
    assert str(bdk.Descriptor(desc, bdk.NetworkKind.TEST)).split("#")[1] == (
        descriptor_checksum(desc)
    )


def test_deriver_feeds_the_registry(warm):
    d = MultisigDeriver(warm)
    assert d.derive_many(5, 3) == [warm.address(i) for i in (5, 6, 7)]
    assert "tprv" not in d.public_descriptor


@pytest.mark.parametrize("digit", ["\u0662", "\u06f2", "\uff12", "\u0968"])  # 2 in other scripts
def test_non_ascii_digits_are_refused(cold, digit):
    """``\\d`` without re.ASCII matches any Unicode digit and ``int()`` reads them: a threshold
    (or a key's branch) written in another script must be refused, never read as 2."""
    body = cold.to_string(1).split("#")[0]
    assert body.startswith("wsh(sortedmulti(3,")
    with pytest.raises(ValueError):
        MultisigDescriptor.parse(body.replace("(3,", f"({digit},", 1), REGTEST)
    with pytest.raises(ValueError):
        MultisigDescriptor.parse(body.replace("/1/*", f"/{digit}/*"), REGTEST)
    assert MultisigDescriptor.parse(body.replace("(3,", "(2,", 1), REGTEST)[0].threshold == 2


_VALID = coincurve.PrivateKey(b"\x01" * 32).public_key


@pytest.mark.parametrize("body", [
    "00",  # one byte
    "02" + "00" * 32,  # prefix right, not a point on the curve
    _VALID.format(compressed=False).hex(),  # uncompressed: non-standard in P2WSH, unspendable
    "04" + _VALID.format()[1:].hex(),  # wrong prefix
    "02 " + _VALID.format()[1:].hex(),  # whitespace, which bytes.fromhex skips
    _VALID.format().hex() + "00",  # trailing byte
])
def test_fixed_keys_must_be_compressed_curve_points(cold, body):
    """A fixed key that is not a 33-byte compressed secp256k1 point gives addresses whose coins
    can never be spent (or relayed): the descriptor is refused, as bdk refuses it."""
    text = cold.to_string(0).split("#")[0]
    hsm = cold.keys[-1]
    assert hsm.pubkey is not None
    bad = text.replace(hsm.pubkey.hex(), body)
    with pytest.raises(ValueError):
        MultisigDescriptor.parse(bad, REGTEST)
    with pytest.raises(Exception):  # noqa: B017, PT011 - bdk's own error type
        bdk.Descriptor(bad, bdk.NetworkKind.TEST)
    if " " not in body:  # (with the space dropped those bytes are a valid key)
        with pytest.raises(ValueError):
            fixed_key(bytes.fromhex(body))
    assert MultisigDescriptor.parse(text, REGTEST)[0] == cold  # the valid one still parses


def test_a_key_counted_twice_is_refused(descriptor_factory):
    """sortedmulti with one key twice lets that key's holder supply two of the m signatures
    (CHECKMULTISIG matches each listed key once): one key could move funds alone."""
    base = descriptor_factory(2, 2, True)
    a, b, hsm = base.keys
    with pytest.raises(ValueError, match="twice"):
        MultisigDescriptor(2, (a, a, b), REGTEST)
    text = MultisigDescriptor(2, (a, b, hsm), REGTEST).to_string(0).split("#")[0]
    with pytest.raises(ValueError, match="twice"):
        MultisigDescriptor.parse(text.replace(b.text(0), a.text(0)), REGTEST)
    with pytest.raises(ValueError, match="twice"):
        MultisigDescriptor(2, (a, b, hsm, fixed_key(hsm.pubkey)), REGTEST)
    # a fixed key equal to one ranged key's child: that one script is refused when derived
    child = a.derive(0, 3)[0]
    odd = MultisigDescriptor(2, (a, b, fixed_key(child)), REGTEST)
    assert odd.address(2)
    with pytest.raises(ValueError, match="twice"):
        odd.address(3)
