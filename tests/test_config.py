"""``keeper.config.Settings``: the one reader of every environment variable of the system."""

from __future__ import annotations

from pathlib import Path

import pytest

from keeper.config import ENVIRONMENT, Settings, load_settings

ALL_VARS = sorted(ENVIRONMENT.values())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No Strongroom variable set: defaults only."""
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_the_local_stack(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'strongroom.db'}"
    assert s.deployments_dir == tmp_path / "deployments"
    assert (s.chain_id, s.confirmations, s.api_port, s.upstream_port) == (1, 12, 8000, 18545)
    assert s.upstream_url == "http://127.0.0.1:18545"
    assert s.sqlite_cache_kib == 65536


def test_every_variable_is_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {
        "data_dir": str(tmp_path / "d"), "database_url": "sqlite:///x.db", "rpc_url": "http://h:1",
        "chain_id": "5", "confirmations": "3", "deployments_dir": str(tmp_path / "dep"),
        "api_port": "8123", "upstream_port": "18999", "sqlite_cache_kib": "1024",
    }
    assert set(values) == set(ENVIRONMENT)  # the test covers every setting
    for field, value in values.items():
        clean_env.setenv(ENVIRONMENT[field], value)
    s = load_settings()
    for field, value in values.items():
        assert str(getattr(s, field)) == value, field
    assert s.upstream_url == "http://127.0.0.1:18999"


def test_explicit_values_win_over_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("STRONGROOM_CHAIN_ID", "5")
    clean_env.setenv("STRONGROOM_DATA", str(tmp_path / "env"))
    s = Settings(chain_id=7, data_dir=tmp_path)
    assert s.chain_id == 7
    assert s.database_url == f"sqlite:///{tmp_path / 'strongroom.db'}"  # derived from the explicit dir


@pytest.mark.parametrize(("name", "value"), [
    ("STRONGROOM_CHAIN_ID", "mainnet"), ("STRONGROOM_CONFIRMATIONS", "-1"),
    ("STRONGROOM_API_PORT", "70000"), ("STRONGROOM_UPSTREAM_PORT", "0"),
])
def test_a_bad_value_is_refused_naming_the_variable(clean_env: pytest.MonkeyPatch, name: str,
                                                    value: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        load_settings()


def test_settings_are_immutable(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    with pytest.raises((TypeError, ValueError, AttributeError)):
        s.chain_id = 2  # type: ignore[misc]


def test_database_password_never_printed(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings(database_url="postgresql+psycopg://keeper:hunter2@db.internal/strongroom")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)
    assert "hunter2" not in s.redacted_database_url()
    assert s.database_url.endswith("keeper:hunter2@db.internal/strongroom")  # still usable


def test_no_other_module_reads_the_environment() -> None:
    """Settings is the one reader: other code names no STRONGROOM_* variable of ours.

    HSM PINs are secrets read by the component that needs them (``STRONGROOM_HSM_PIN``), never
    Settings values; set-up's own switches live in ``scripts/setup.sh``.
    """
    root = Path(__file__).resolve().parent.parent
    # keeper/ledger/db.py (another domain's file) still reads its cache size itself until it takes
    # ``load_settings().sqlite_cache_kib``; then it leaves this set.
    allowed = {root / "keeper/config.py", root / "keeper/ledger/db.py"}
    offenders = []
    for folder in ("keeper", "api", "scripts"):
        for path in (root / folder).rglob("*.py"):
            if path in allowed:
                continue
            text = path.read_text()
            offenders += [f"{path.relative_to(root)}: {v}" for v in ALL_VARS if f'"{v}"' in text]
    assert offenders == []
