"""HD derivation: watch-only deposit addresses, uniqueness enforced by the database."""

from __future__ import annotations

import os
import random

import pytest
from embit import bip32
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert, inspect, text, update
from sqlalchemy.exc import IntegrityError

from keeper.keys.hd import (
    AddressRegistry,
    DepositAddress,
    EthBip44Deriver,
    ExtendedPrivateKey,
    ExtendedPublicKey,
    WrappedSeed,
)
from keeper.keys.hsm import HsmSeedWrapper
from strongroom_testkit.dbtemplate import fresh_url

N_CLIENTS = 100_000


@settings(max_examples=10, deadline=None)
@given(seed=st.binary(min_size=16, max_size=64), idx=st.integers(0, 2**31 - 1))
def test_bip32_matches_embit(seed, idx):
    ours = ExtendedPrivateKey.from_seed(seed).derive("m/48h/1h/0h/2h")
    theirs = bip32.HDKey.from_seed(seed, version=bip32.NETWORKS["test"]["xprv"]).derive(
        "m/48h/1h/0h/2h"
    )
    assert ours.serialize() == theirs.to_base58()
    xpub = ExtendedPublicKey.parse(ours.public().serialize())
    assert xpub.serialize() == theirs.to_public().to_base58()
    assert xpub.derive([0, idx]).key == theirs.derive([0, idx]).key.sec()


@pytest.fixture
def registry(tmp_path):
    reg = AddressRegistry(create_engine(fresh_url(tmp_path / 'keys.db')))
    reg.create_schema()
    return reg


def _eth_account(seed: bytes) -> tuple[ExtendedPrivateKey, str]:
    acct = ExtendedPrivateKey.from_seed(seed, "main").derive("m/44h/60h/0h")
    return acct, acct.public().serialize()


def test_registry_refuses_private_keys(registry):
    acct, _ = _eth_account(os.urandom(32))
    with pytest.raises(ValueError, match="PRIVATE"):
        EthBip44Deriver(acct.serialize())

    class Leaky:
        chain = "eth"
        public_descriptor = acct.serialize()

        def derive(self, index: int) -> str:
            return ""

    with pytest.raises(ValueError, match="never stores private keys"):
        registry.register_wallet("leaky", Leaky())


def test_allocations_match_private_derivation_and_never_repeat(registry):
    acct, xpub = _eth_account(os.urandom(32))
    deriver = EthBip44Deriver(xpub)
    registry.register_wallet("eth-deposits", deriver)
    allocs = [registry.allocate("eth-deposits", f"client-{i}", deriver) for i in range(20)]
    assert [a.child_index for a in allocs] == list(range(20))
    assert len({a.address for a in allocs}) == 20
    for a in allocs[:5]:
        key = acct.derive([0, a.child_index]).secret
        assert Account.from_key(key).address == a.address


def test_100k_client_addresses_unique_and_derivable_from_xpub(registry):
    _, xpub = _eth_account(os.urandom(32))
    deriver = EthBip44Deriver(xpub)
    wallet_id = registry.register_wallet("eth-clients", deriver)
    clients = [f"c{i}" for i in range(N_CLIENTS)]
    start = registry.allocate_many("eth-clients", clients, deriver.derive_many)
    assert start == 0
    rows = registry.addresses("eth-clients")
    assert len(rows) == N_CLIENTS
    assert len({addr for _, addr in rows}) == N_CLIENTS
    # re-derive a random sample from the xpub alone (a fresh deriver, no private key)
    fresh = EthBip44Deriver(xpub)
    for idx, addr in random.Random(7).sample(rows, 200):
        assert fresh.derive(idx).lower() == addr
    # the database refuses handing out an address twice
    with pytest.raises(IntegrityError), registry.engine.begin() as conn:
        conn.execute(
            insert(DepositAddress),
            [{"wallet_id": wallet_id, "client_id": "dup", "child_index": N_CLIENTS + 1,
              "address": rows[123][1], "created_at": __import__("datetime").datetime.now()}],
        )
    # and the next allocation continues after the bulk range
    assert registry.allocate("eth-clients", "late", deriver).child_index == N_CLIENTS


def _every_value_stored(engine) -> bytes:
    """Every value of every row of every table, as bytes (what a database dump would show)."""
    out = bytearray()
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    out += value if isinstance(value, bytes | memoryview) else str(value).encode()
    return bytes(out)


def test_cosigner_seed_stored_only_wrapped(registry, hsm_config):
    seed = os.urandom(32)
    master = ExtendedPrivateKey.from_seed(seed)
    wrapper = HsmSeedWrapper(hsm_config)
    registry.store_wrapped_seed("cosigner-1", master.fingerprint(), wrapper.wrap(seed))
    blob = registry.load_wrapped_seed("cosigner-1")
    assert seed not in _every_value_stored(registry.engine)
    if registry.engine.dialect.name == "sqlite":  # nor in the file's free pages
        assert seed not in open(registry.engine.url.database, "rb").read()
    assert ExtendedPrivateKey.from_seed(wrapper.unwrap(blob)).fingerprint() == master.fingerprint()


def test_wrapped_seeds_are_bound_to_their_name(registry, hsm_config):
    """Moving a wrapped blob to another name (a database edit) never yields a seed."""
    wrapper = HsmSeedWrapper(hsm_config)
    seeds = {name: os.urandom(32) for name in ("cosigner-a", "cosigner-b")}
    for name, seed in seeds.items():
        registry.store_seed(name, seed, wrapper)
    for name, seed in seeds.items():
        assert registry.load_seed(name, wrapper) == seed
    blob_a = registry.load_wrapped_seed("cosigner-a")
    blob_b = registry.load_wrapped_seed("cosigner-b")
    with registry.engine.begin() as conn:
        conn.execute(update(WrappedSeed).where(WrappedSeed.name == "cosigner-a")
                     .values(blob=blob_b))
        conn.execute(update(WrappedSeed).where(WrappedSeed.name == "cosigner-b")
                     .values(blob=blob_a))
    for name in seeds:
        with pytest.raises(ValueError, match="wrapped seed"):
            registry.load_seed(name, wrapper)


@pytest.mark.parametrize("path", ["m", "m/44h/60h", "m/44h/60h/0h/0", "m/44h/60h/0"])
def test_eth_deriver_wants_an_account_level_xpub(path):
    """m/44'/60'/account' only: another level silently yields non-standard addresses."""
    xpub = ExtendedPrivateKey.from_seed(os.urandom(32), "main").derive(path).public().serialize()
    with pytest.raises(ValueError, match="account"):
        EthBip44Deriver(xpub)
