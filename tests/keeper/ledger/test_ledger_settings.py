"""The ledger's engine tuning comes from ``keeper.config.Settings``, never from its own reads."""

from __future__ import annotations

import pytest

from keeper.config import ENVIRONMENT
from keeper.ledger import make_engine


def _cache_kib(url: str, **kw: int) -> int:
    engine = make_engine(url, **kw)
    try:
        with engine.connect() as conn:
            return -conn.exec_driver_sql("PRAGMA cache_size").scalar()
    finally:
        engine.dispose()


@pytest.mark.sqlite_only(reason="SQLite's page cache")
def test_sqlite_page_cache_follows_the_setting(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'l.db'}"
    monkeypatch.delenv(ENVIRONMENT["ledger_sqlite_cache_kib"], raising=False)
    assert _cache_kib(url) == 65536  # the Settings default
    monkeypatch.setenv(ENVIRONMENT["ledger_sqlite_cache_kib"], "1234")
    assert _cache_kib(url) == 1234  # read through Settings when the engine is made
    assert _cache_kib(url, cache_kib=777) == 777  # an explicit value (from a Settings) wins
    monkeypatch.setenv(ENVIRONMENT["ledger_sqlite_cache_kib"], "lots")
    with pytest.raises(ValueError, match="STRONGROOM_LEDGER_SQLITE_CACHE_KIB"):
        make_engine(url)  # a bad value stops start-up naming the variable
