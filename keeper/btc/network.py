"""Bitcoin network parameters (the network is always a parameter, never a global)."""

from __future__ import annotations

from dataclasses import dataclass


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

    def bdk(self):  # noqa: ANN201 - optional dependency type
        """The matching ``bdkpython.Network`` (imported lazily; bdk is a test/interop tool)."""
        import bdkpython as bdk

        return {
            "main": bdk.Network.BITCOIN,
            "testnet": bdk.Network.TESTNET,
            "regtest": bdk.Network.REGTEST,
            "signet": bdk.Network.SIGNET,
        }[self.name]


MAINNET = Network("main", "bc", "main", 0, "main")
TESTNET = Network("testnet", "tb", "test", 1, "test")
SIGNET = Network("signet", "tb", "test", 1, "signet")
REGTEST = Network("regtest", "bcrt", "test", 1, "regtest")

NETWORKS = {n.name: n for n in (MAINNET, TESTNET, SIGNET, REGTEST)}


def get_network(name: str) -> Network:
    """Look a network up by name (``main``, ``testnet``, ``signet``, ``regtest``)."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; one of {sorted(NETWORKS)}") from None
