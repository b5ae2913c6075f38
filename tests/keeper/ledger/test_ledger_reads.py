"""Read-only lookups (GETs never insert) and asset normalisation at the ledger boundary."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from keeper.ledger import Ledger, TransferSpec, UnknownAsset, normalise_asset
from keeper.ledger.db import WRITE
from keeper.ledger.models import Account


def _accounts(lg: Ledger) -> int:
    with lg.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Account.__table__))


def test_lookups_of_unknown_client_create_nothing(ledger: Ledger) -> None:
    before = _accounts(ledger)
    assert ledger.find_client_account("nobody", "USDC") is None
    assert ledger.client_balances("nobody") == {}
    st = ledger.statement("nobody", "ETH", 2026, 1)
    assert (st.account_id, st.lines, st.opening_balance, st.closing_balance) == (0, [], 0, 0)
    assert ledger.client_id_for_ref(b"\x01" * 32) is None
    assert _accounts(ledger) == before


def test_lookups_find_what_exists(ledger: Ledger) -> None:
    om = ledger.omnibus_account("USDC", "vault")
    alice = ledger.client_account("alice", "USDC")
    ledger.client_account("alice", "ETH")
    ledger.post(TransferSpec("dep", om, alice, 250))
    before = _accounts(ledger)
    assert ledger.find_client_account("alice", "usdc") == alice
    bals = ledger.client_balances("alice")
    assert sorted(bals) == ["ETH", "USDC"]
    assert bals["USDC"].account_id == alice and bals["USDC"].credit_balance == 250
    assert bals["ETH"].credit_balance == 0
    wide = 2**200 + 3  # stored as decimal text on SQLite: read back as the exact int
    ledger.post(TransferSpec("dep-eth", ledger.omnibus_account("ETH", "vault"),
                             ledger.find_client_account("alice", "ETH"), wide))
    eth = ledger.client_balances("alice")["ETH"]
    assert (eth.credits_posted, eth.debits_posted, eth.credit_balance) == (wide, 0, wide)
    assert type(eth.credits_posted) is int
    before += 1  # the ETH omnibus account
    ledger.register_client_ref("0x" + "ab" * 32, "alice")
    assert ledger.client_id_for_ref(bytes.fromhex("ab" * 32)) == "alice"
    assert ledger.client_id_for_ref("0x" + "AB" * 32) == "alice"
    assert _accounts(ledger) == before


def test_asset_symbols_are_normalised_and_validated(ledger: Ledger) -> None:
    assert normalise_asset("usdt") == "USDT"
    assert ledger.client_account("bob", "eth") == ledger.client_account("bob", "ETH")
    assert ledger.omnibus_account("Usdc", "x") == ledger.omnibus_account("USDC", "x")
    with pytest.raises(UnknownAsset, match="unknown asset 'DOGE'"):
        ledger.client_account("bob", "DOGE")
    with pytest.raises(UnknownAsset):
        ledger.find_client_account("bob", "ERC20:0xabc")
    with pytest.raises(ValueError):  # UnknownAsset is also a ValueError for API callers
        ledger.statement("bob", "XYZ", 2026, 1)


@pytest.mark.sqlite_only(reason="SQLite's WAL checkpoints")
def test_group_commits_skip_autocheckpoint_and_checkpoint_in_background(tmp_path) -> None:
    from keeper.ledger import upgrade

    url = f"sqlite:///{tmp_path / 'ck.db'}"
    upgrade(url)
    lg = Ledger(url)
    try:
        om, c = lg.omnibus_account("ETH", "v"), lg.client_account("c", "ETH")
        tickets = [lg.submit(TransferSpec(f"t{i}", om, c, 1)) for i in range(3000)]
        assert all(t.exception() is None for t in tickets)
        ck = lg._committer.checkpointer  # noqa: SLF001
        deadline = time.monotonic() + 10
        while ck.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ck.runs > 0
        # a direct write (e.g. the API's) gets SQLite's automatic checkpoint back
        with lg.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert lg.balance(c).credit_balance == 3000
    finally:
        lg.close()
    assert Ledger(url, group_commit=False).balance(c).credit_balance == 3000
