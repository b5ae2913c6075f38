"""Bitcoin network parameters (the network is always a parameter, never a global)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from bitcointx import ChainParams
from bitcointx.util import class_mapping_dispatch_data

_P = ParamSpec("_P")
_R = TypeVar("_R")


def bitcoin_classes(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with python-bitcointx's class dispatchers active in the current thread.

    python-bitcointx keeps them in a ContextVar set at import, i.e. only in the main thread:
    in a worker thread (keeper jobs, API thread pools) ``CTxIn(COutPoint(...))`` then raises
    TypeError. Core transaction classes are the same on every Bitcoin network, so activating
    mainnet's is enough; network-specific parts (xpub prefixes) select their own network.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if class_mapping_dispatch_data.get_dispatcher_class("core") is not None:
            return fn(*args, **kwargs)
        with ChainParams("bitcoin"):
            return fn(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Network:
    """Address prefix and key-version kind of a Bitcoin network."""

    name: str
    hrp: str
    #: ``"main"`` or ``"test"``: xpub/tpub version bytes.
    key_kind: str
    #: BIP44/48 coin type.
    coin_type: int
    #: embit ``NETWORKS`` key.
    embit_name: str
    #: python-bitcointx chain parameters (tpub/xpub prefixes of PSBT global xpubs).
    chain_params: str = "bitcoin"

    def bdk(self):  # noqa: ANN201 - optional dependency type
        """The matching ``bdkpython.Network`` (imported lazily; bdk is a test/interop tool)."""
        import bdkpython as bdk

        return {
            "main": bdk.Network.BITCOIN,
            "testnet": bdk.Network.TESTNET,
            "regtest": bdk.Network.REGTEST,
            "signet": bdk.Network.SIGNET,
        }[self.name]

    def params(self) -> ChainParams:
        """Context selecting this network in python-bitcointx (for PSBT (de)serialization)."""
        return ChainParams(self.chain_params)


MAINNET = Network("main", "bc", "main", 0, "main", "bitcoin")
TESTNET = Network("testnet", "tb", "test", 1, "test", "bitcoin/testnet")
SIGNET = Network("signet", "tb", "test", 1, "signet", "bitcoin/signet")
REGTEST = Network("regtest", "bcrt", "test", 1, "regtest", "bitcoin/regtest")

NETWORKS = {n.name: n for n in (MAINNET, TESTNET, SIGNET, REGTEST)}


def get_network(name: str) -> Network:
    """Look a network up by name (``main``, ``testnet``, ``signet``, ``regtest``)."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; one of {sorted(NETWORKS)}") from None
