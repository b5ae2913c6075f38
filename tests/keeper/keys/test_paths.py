"""Derivation paths: one reading per text; anything else is a ValueError, never reinterpreted."""

from __future__ import annotations

import hashlib

import pytest
from embit import base58
from embit import bip32 as embit_bip32
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.btc import REGTEST, MultisigDescriptor
from keeper.keys.hd import (
    HARDENED,
    ExtendedPrivateKey,
    ExtendedPublicKey,
    format_path,
    parse_path,
)

H = HARDENED

VALID = [
    ("m", []),
    ("m/0", [0]),
    ("m/48h/1h/0h/2h", [48 + H, 1 + H, 0 + H, 2 + H]),
    ("m/48'/1'/0'/2'", [48 + H, 1 + H, 0 + H, 2 + H]),
    ("m/48H/1H/0H/2H", [48 + H, 1 + H, 0 + H, 2 + H]),
    ("m/2147483647", [H - 1]),
    ("m/2147483647h", [2**32 - 1]),
    ("44h/60h/0h", [44 + H, 60 + H, 0 + H]),  # relative (as format_path writes it)
    ("0/5", [0, 5]),
    ("/48'/1'", [48 + H, 1 + H]),  # a descriptor origin fragment, after the fingerprint
]

INVALID = [
    "",  # empty: "m" names the master
    "m/2147483648",  # >= 2^31 unhardened: would silently become hardened 0
    "m/4294967295",
    "m/2147483648h",  # hardened index overflows 32 bits
    "m/1_000",  # int() accepts underscores
    "m/+5",  # ... and a sign
    "m/-1",
    "m/ 5",  # ... and surrounding whitespace
    "m/5 ",
    " m/5",
    "m/5\n",
    "m/\t5",
    "m//1",  # empty segments
    "m/1/",
    "m/1//2",
    "/",
    "//1",
    "m/",
    "m/01",  # leading zeros: decimal or octal?
    "m/00",
    "m/007h",
    "m/1''",  # doubled or unknown hardened markers
    "m/1h'",
    "m/1hh",
    "m/1p",
    "m/h",
    "m/'",
    "m/m/1",  # "m" only at the start
    "1/m/2",
    "M/1",  # public-derivation notation of some wallets: not ours
    "m/1/*",
    "m/\u0664\u0668h",  # Arabic-Indic digits: int() reads them as 48
    "m/\uff14\uff18h",  # fullwidth digits
    "m/1.5",
    "m/0x10",
    "m/1e3",
    "m\\1",
    "/".join(["m"] + ["0"] * 256),  # deeper than BIP32's one-byte depth
]


@pytest.mark.parametrize(("text", "want"), VALID)
def test_valid_paths(text, want):
    assert parse_path(text) == want


@pytest.mark.parametrize("text", [t for t, _ in VALID if t.startswith("m")])
def test_valid_paths_agree_with_embit(text):
    assert parse_path(text) == embit_bip32.parse_path(text)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_paths_are_value_errors(text):
    with pytest.raises(ValueError, match="derivation path"):
        parse_path(text)


@pytest.mark.parametrize("text", INVALID)
def test_private_derivation_refuses_invalid_paths(text):
    master = ExtendedPrivateKey.from_seed(b"\x01" * 32)
    with pytest.raises(ValueError, match="derivation path"):
        master.derive(text)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), max_size=8), st.sampled_from(["h", "'", "H"]))
def test_format_then_parse_roundtrips(indices, mark):
    text = format_path(indices, mark)
    assert parse_path("m/" + text if text else "m") == indices
    if text:
        assert parse_path(text) == indices


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="0123456789hH'm/ _+-", max_size=14))
def test_any_text_parses_to_its_one_reading_or_raises(text):
    """An independent reading: accepted texts must reformat to themselves (modulo marker)."""
    try:
        got = parse_path(text)
    except ValueError:
        return
    assert all(0 <= i < 2**32 for i in got)
    canonical = format_path(got, "h")
    body = text[2:] if text.startswith("m/") else text.lstrip("/")
    assert body.replace("'", "h").replace("H", "h") == canonical or text == "m"


@pytest.mark.parametrize("index", [-1, 2**32])
def test_format_path_refuses_out_of_range(index):
    with pytest.raises(ValueError, match="derivation path"):
        format_path([index])


def _descriptor(origin: str, branch: str = "0") -> str:
    master = ExtendedPrivateKey.from_seed(hashlib.sha256(b"paths").digest())
    xpub = master.derive("m/48h/1h/0h/2h").public().serialize()
    other = ExtendedPrivateKey.from_seed(hashlib.sha256(b"paths2").digest())
    xpub2 = other.derive("m/48h/1h/0h/2h").public().serialize()
    return (f"wsh(sortedmulti(1,[{master.fingerprint().hex()}{origin}]{xpub}/{branch}/*,"
            f"[{other.fingerprint().hex()}/48h/1h/0h/2h]{xpub2}/{branch}/*))")


def test_descriptor_key_origins_follow_the_same_rules():
    desc, branch = MultisigDescriptor.parse(_descriptor("/48'/1'/0'/2'"), REGTEST)
    assert branch == 0
    assert desc.keys[0].origin == (48 + H, 1 + H, 0 + H, 2 + H)
    for origin in ("/2147483648/1h", "/048h/1h"):
        with pytest.raises(ValueError, match="derivation path"):
            MultisigDescriptor.parse(_descriptor(origin), REGTEST)
    # non-ASCII digits never even form a key expression (the descriptor grammar is ASCII)
    for origin in ("/\u0664\u0668h/1h",):
        with pytest.raises(ValueError, match="derivation path|key expression"):
            MultisigDescriptor.parse(_descriptor(origin), REGTEST)
    for branch_text in ("2147483648", "01"):
        with pytest.raises(ValueError, match="derivation path"):
            MultisigDescriptor.parse(_descriptor("/48h/1h/0h/2h", branch_text), REGTEST)


@pytest.mark.parametrize("index", [-1, 2**32])
def test_child_index_out_of_range_is_a_value_error(index):
    master = ExtendedPrivateKey.from_seed(b"\x02" * 32)
    with pytest.raises(ValueError, match="child index"):
        master.child(index)
    with pytest.raises(ValueError, match="child index"):
        master.public().child(index)


def _xpub_bytes(**over) -> bytes:
    """A valid tpub's 78 bytes with fields overridden (BIP32 test vector 5 style)."""
    node = ExtendedPrivateKey.from_seed(b"\x03" * 32).derive("m/48h/1h/0h/2h").public()
    raw = bytearray(base58.decode_check(node.serialize()))
    for offset, value in over.values():
        raw[offset:offset + len(value)] = value
    return bytes(raw)


@pytest.mark.parametrize(("fields", "why"), [
    ({"prefix": (45, b"\x04")}, "public key"),  # invalid pubkey prefix 04
    ({"key": (45, b"\x02" + b"\x00" * 31 + b"\x07")}, "public key"),  # not on the curve
    ({"depth": (4, b"\x00")}, "depth 0"),  # zero depth, non-zero parent fingerprint
    ({"depth": (4, b"\x00"), "fp": (5, b"\x00" * 4)}, "depth 0"),  # zero depth, index != 0
])
def test_hostile_extended_public_keys_are_refused(fields, why):
    text = base58.encode_check(_xpub_bytes(**fields))
    with pytest.raises(ValueError, match=why):
        ExtendedPublicKey.parse(text)
