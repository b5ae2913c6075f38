"""Fixtures for the Bitcoin tests: cosigner seeds, an HSM cosigner, descriptors, a chain."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass

import pytest

from keeper.btc import REGTEST, LocalChain, MultisigDescriptor, fixed_key, ranged_key
from keeper.keys.hd import ExtendedPrivateKey
from keeper.keys.hsm import HsmSigner, ensure_local_token

BIP48 = "m/48h/1h/0h/2h"


@dataclass
class Cosigners:
    seeds: list[bytes]
    masters: list[ExtendedPrivateKey]
    hsm: HsmSigner


@pytest.fixture(scope="session")
def hsm_signer(tmp_path_factory):
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    cfg = ensure_local_token(tmp_path_factory.mktemp("btc-data"))
    signer = HsmSigner(cfg, "btc-cosigner")
    yield signer
    signer.close()


@pytest.fixture(scope="session")
def cosigners(hsm_signer) -> Cosigners:
    seeds = [hashlib.sha256(b"strongroom-test-cosigner-%d" % i).digest() for i in range(5)]
    return Cosigners(seeds, [ExtendedPrivateKey.from_seed(s) for s in seeds], hsm_signer)


def make_descriptor(cos: Cosigners, m: int, n_software: int, with_hsm: bool):
    keys = [
        ranged_key(k.fingerprint(), BIP48, k.derive(BIP48).public().serialize())
        for k in cos.masters[:n_software]
    ]
    if with_hsm:
        keys.append(fixed_key(cos.hsm.public_key()))
    return MultisigDescriptor(m, tuple(keys), REGTEST)


@pytest.fixture
def warm(cosigners):
    """2-of-3: two HD cosigners and the HSM."""
    return make_descriptor(cosigners, 2, 2, True)


@pytest.fixture
def cold(cosigners):
    """3-of-5: four HD cosigners and the HSM."""
    return make_descriptor(cosigners, 3, 4, True)


@pytest.fixture
def chain():
    return LocalChain()


@pytest.fixture(scope="session")
def descriptor_factory(cosigners):
    """``factory(m, n_software, with_hsm)`` -> MultisigDescriptor."""
    return lambda m, n_soft, hsm: make_descriptor(cosigners, m, n_soft, hsm)


@pytest.fixture
def btc_url(database) -> str:
    """A freshly migrated btc schema (SQLite and PostgreSQL)."""
    from keeper.btc.migrate import upgrade

    url = database("btc")
    upgrade(url)
    return url
