"""Shared fixtures. The suite runs under `ape test` on a fork of the upstream chain
(the local mainnet by default; a real mainnet archive node when ape-config.yaml says so)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from keeper.assets import USDC, USDT
from scripts.localnet import SAFE_DEPLOYMENTS
from strongroom_testkit.dbtemplate import BACKENDS, create_migrated, migrate_fresh, set_backend
from strongroom_testkit.postgres import (
    PostgresCluster,
    pg_unavailable_reason,
    session_cluster,
    stop_shared_cluster,
)

# 2 shared cores: an example's wall time says nothing about correctness, so no deadlines.
settings.register_profile("strongroom", deadline=None, print_blob=True)
settings.load_profile("strongroom")

# what only ape's test plugin provides: a test that needs one of these is of the fork tier
FORK_FIXTURES = frozenset({"chain", "accounts", "project", "networks"})


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--db=postgresql``: every product database the tests make is a new database in the
    session's PostgreSQL cluster instead of a SQLite file (``make test DB=postgres``)."""
    parser.addoption("--db", choices=BACKENDS, default="sqlite",
                     help="backend of the tests' product databases (default sqlite)")


def pytest_configure(config: pytest.Config) -> None:
    """Route :func:`strongroom_testkit.dbtemplate.fresh_url` to the ``--db`` backend."""
    config.addinivalue_line(
        "markers", "sqlite_only(reason): about SQLite itself; deselected with --db=postgresql")
    backend = config.getoption("--db")
    if backend == "postgresql" and (reason := pg_unavailable_reason()):
        raise pytest.UsageError(f"--db=postgresql: {reason}")
    set_backend(backend)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the session's PostgreSQL cluster, if one was started."""
    stop_shared_cluster()


def _sqlite_only(item: pytest.Item) -> str | None:
    """Why ``item`` runs only on SQLite (a ``sqlite_only`` mark, or the ``sqlite`` variant of a
    test parametrized over both backends), else None."""
    mark = item.get_closest_marker("sqlite_only")
    if mark is not None:
        return str(mark.kwargs.get("reason") or (mark.args[0] if mark.args else "about SQLite"))
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "sqlite" in [v for v in params.values() if isinstance(v, str)]:
        return "the SQLite variant (its postgresql variant runs)"
    return None


def _deselect_sqlite_only(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--db=postgresql``: deselect the tests about SQLite itself, printing each reason."""
    why = {item.nodeid: r for item in items if (r := _sqlite_only(item))}
    if not why:
        return
    config.hook.pytest_deselected(items=[i for i in items if i.nodeid in why])
    items[:] = [i for i in items if i.nodeid not in why]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reasons: dict[str, int] = {}
        for reason in why.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        for reason, n in sorted(reasons.items()):
            reporter.write_line(f"--db=postgresql: deselected {n} SQLite-only test(s): {reason}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--db=postgresql`` deselect the SQLite-only tests. Under plain pytest
    (``-p no:ape_test``, the pure tier) deselect the fork tier's tests: those marked ``fork`` or
    needing ape's fixtures, directly or through other fixtures. They are not skipped: they run
    under ``ape test`` (``make test``)."""
    if config.getoption("--db") == "postgresql":
        _deselect_sqlite_only(config, items)
    if config.pluginmanager.hasplugin("ape_test"):
        return
    fork = [i for i in items if i.get_closest_marker("fork")
            or FORK_FIXTURES & set(getattr(i, "fixturenames", ()))]
    if fork:
        config.hook.pytest_deselected(items=fork)
        items[:] = [i for i in items if i not in set(fork)]


@pytest.fixture(scope="session")
def rpc_url(chain: Any) -> str:
    """HTTP JSON-RPC URL of the forked chain the tests run on."""
    return str(chain.provider.uri)


@pytest.fixture(scope="session")
def w3(chain: Any) -> Any:
    """A web3.Web3 connected to the forked chain (ape's own connection)."""
    return chain.provider.web3


@pytest.fixture(scope="session")
def usdc(project: Any) -> Any:
    """USDC at its real mainnet address (the stand-in locally, the real one on a mainnet fork)."""
    return project.FiatTokenV2.at(USDC.address)


@pytest.fixture(scope="session")
def usdt(project: Any) -> Any:
    """USDT at its real mainnet address (the stand-in locally, the real one on a mainnet fork)."""
    return project.TetherToken.at(USDT.address)


@pytest.fixture(scope="session")
def safe_deployments() -> dict[str, dict[str, Any]]:
    """Safe 1.4.1 canonical deployments (address, codeHash, abi) from @safe-global/safe-deployments."""
    out = {}
    for path in sorted(SAFE_DEPLOYMENTS.glob("*.json")):
        meta = json.loads(path.read_text())
        canonical = meta["deployments"].get("canonical")
        if canonical:
            out[meta["contractName"]] = {**canonical, "abi": meta["abi"]}
    return out


@pytest.fixture
def fund(chain: Any):
    """Give an address ETH for gas: ``fund(address, wei=10**20)``."""

    def _fund(address: str, wei: int = 10**20) -> None:
        chain.provider.set_balance(address, wei)

    return _fund


@pytest.fixture
def assert_deploy_reverts(chain: Any):
    """``assert_deploy_reverts(container, *args, reason=..., sender=...)``: the constructor
    reverts with exactly ``reason`` and nothing is deployed.

    The reason is read with an ``eth_call`` of the init code straight from the node: ape's
    decoding of a reverted deployment is unreliable (it sometimes fails with eth_abi's
    InvalidPointer and reports "did not revert").
    """
    from eth_abi import decode
    from hexbytes import HexBytes
    from web3.exceptions import ContractLogicError

    def _check(container: Any, *args: Any, reason: str, sender: Any) -> None:
        init = bytes(HexBytes(container.contract_type.deployment_bytecode.bytecode))
        init += bytes(container.constructor.encode_input(*args))
        nonce_before = chain.provider.get_nonce(sender.address)
        try:
            chain.provider.web3.eth.call({"from": sender.address, "data": "0x" + init.hex()})
        except ContractLogicError as err:
            data = err.data if isinstance(err.data, str) else ""
            got = (decode(["string"], bytes.fromhex(data[10:]))[0]
                   if data.startswith("0x08c379a0") else str(err))
            assert got == reason or reason in str(err), f"reverted with {got!r}, expected {reason!r}"
        else:
            raise AssertionError(f"constructor did not revert (expected {reason!r})")
        assert chain.provider.get_nonce(sender.address) == nonce_before

    return _check


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., str]:
    """``database(name)`` -> the URL of a new, empty database, once on SQLite (``<tmp>/<name>.db``)
    and once in the session's PostgreSQL cluster (a uniquely named database): every test using
    it runs on both backends. Domain fixtures migrate the schemas they need into it.
    ``database(name, migrated=True)``: every domain already at its heads (a copy of the session's
    template, :mod:`strongroom_testkit.dbtemplate`)."""

    def make(name: str, migrated: bool = False) -> str:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'{name}.db'}"
            if migrated:
                migrate_fresh(url)
            return url
        cluster = request.getfixturevalue("pg_cluster")
        unique = f"{name}_{uuid.uuid4().hex[:12]}"
        if migrated:
            return create_migrated(cluster.url(), unique)
        return cluster.create_database(unique)

    return make


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL 15 cluster for the whole session, shared by every domain's tests
    (fsync off: tests only). Skips, printing why, only when the server binaries are absent."""
    yield from session_cluster()
