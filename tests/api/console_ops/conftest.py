"""Fixtures of the console-ops tests: one world for the package
(:mod:`strongroom_testkit.consoleops`), an app and an in-process client per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from strongroom_testkit.consoleops import OpsWorld, build_ops_world


@pytest.fixture(scope="package")
def ow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsWorld]:
    """One ops world for the package (its logins cost ~0.4 s each to hash): the tests that
    change it each take their own case (:attr:`OpsWorld.cases`) or break."""
    world = build_ops_world(Path(tmp_path_factory.mktemp("console-ops")))
    yield world
    world.engine.dispose()


@pytest.fixture(scope="module")
def oapp(ow: OpsWorld) -> FastAPI:
    """The app on the module's world."""
    return ow.app()


@pytest.fixture(scope="module")
def web(oapp: FastAPI) -> Iterator[TestClient]:
    """The module's in-process client (``form_login`` clears its cookies); redirects are not
    followed."""
    with TestClient(oapp, follow_redirects=False) as client:
        yield client
