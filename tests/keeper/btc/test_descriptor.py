"""Descriptors: BIP380 checksums and addresses agree with bdkpython and embit."""

from __future__ import annotations

import bdkpython as bdk
import coincurve
import pytest
from embit.descriptor import Descriptor as EmbitDescriptor
from embit.networks import NETWORKS
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.btc import REGTEST, TESTNET, MultisigDeriver, MultisigDescriptor, descriptor_checksum


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
