"""``/v1/partners`` (scope ops): the partner's holdings per client from the last verified data,
with the stale flag and age (stale before any sync and during an outage), and the breaks
verification found in cursor pages; no credential 401, a key without ``ops`` 403; hostile query
strings 400/422, never 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from keeper.partners import PartnerTx, deposit_addresses, holdings
from keeper.partners.chainscan import Move
from keeper.partners.store import PartnerStore, now
from strongroom_testkit.dbtemplate import read_only_engine
from strongroom_testkit.forensics import addr
from strongroom_testkit.opsapi import ops_api

SUB = addr(0x5AB)  # client-7's sub-account at the partner
PAYER = addr(0xFA)
TX = "0x" + "ab" * 32
UNITS = 2**64 + 7  # beyond a JSON double


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Any:
    yield from ops_api(tmp_path_factory.mktemp("partners-api"))


@pytest.fixture(scope="module")
def store(w: Any) -> PartnerStore:
    """client-7's sub-account with one verified deposit of UNITS USDC, and three breaks."""
    st = PartnerStore(w.engine, "warp")
    st.add_account("client-7", SUB)
    st.add_reports([PartnerTx.model_validate({
        "id": "p-1", "seq": 1, "client_ref": "client-7", "kind": "deposit", "asset": "USDC",
        "amount": str(UNITS), "fee": "0", "from": PAYER, "to": SUB, "tx_hash": TX,
        "log_index": 0, "block_number": 10, "status": "confirmed"})])
    report = st.reports("pending")[0]
    with w.engine.begin() as conn:
        st.decide(conn, report["id"], "verified",
                  Move(f"{TX}:0", TX, 10, "USDC", UNITS, PAYER, SUB, 0))
    for n, kind in enumerate(["amount_mismatch", "unreported_on_chain", "balance_mismatch"]):
        assert st.add_break(kind, f"ref-{n}", f"detail {n}", "client-7", TX)
    return st


def test_every_route_needs_an_ops_credential(w: Any) -> None:
    for path in ("/v1/partners/holdings", "/v1/partners/breaks"):
        r = w.api.get(path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = w.api.get(path, headers=w.read)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def _holdings(w: Any) -> dict[str, dict]:
    r = w.api.get("/v1/partners/holdings", headers=w.ops)
    assert r.status_code == 200, r.text
    return {h["asset"]: h for h in r.json()["items"] if h["client_ref"] == "client-7"}


def test_holdings_are_the_verified_units_stale_until_a_good_sync(w: Any, store: PartnerStore
                                                                  ) -> None:
    held = _holdings(w)
    assert set(held) == {"ETH", "USDC", "USDT"}
    assert held["USDC"]["units"] == str(UNITS) and held["USDC"]["address"] == SUB
    assert held["ETH"]["units"] == "0"
    assert held["USDC"]["stale"] is True and held["USDC"]["as_of"] is None  # never synced
    store.set_state(last_ok_at=now() - timedelta(seconds=30))
    fresh = _holdings(w)["USDC"]
    assert fresh["stale"] is False and 30 <= fresh["age_s"] < 300
    store.set_state(outage_since=now())  # unreachable: the last verified data, marked stale
    out = _holdings(w)["USDC"]
    assert out["stale"] is True and out["units"] == str(UNITS)
    store.set_state(outage_since=None, last_ok_at=now() - timedelta(hours=1))
    assert _holdings(w)["USDC"]["stale"] is True  # too old


def test_breaks_in_cursor_pages(w: Any, store: PartnerStore) -> None:
    r = w.api.get("/v1/partners/breaks", params={"limit": 2}, headers=w.ops)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [b["kind"] for b in page["items"]] == ["amount_mismatch", "unreported_on_chain"]
    assert page["items"][0]["client_ref"] == "client-7" and page["items"][0]["tx_hash"] == TX
    r = w.api.get("/v1/partners/breaks", params={"limit": 2, "cursor": page["next_cursor"]},
                  headers=w.ops)
    rest = r.json()
    assert [b["kind"] for b in rest["items"]] == ["balance_mismatch"]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("params,status", [
    ({"limit": 0}, 422), ({"limit": 10**20}, 422), ({"limit": "x"}, 422),
    ({"cursor": "!!"}, 400), ({"cursor": "eyJ2IjoxLCJhIjotMSwibCI6ImJyZWFrcyJ9"}, 400),
    ({"cursor": "y" * 500}, 422),
])
def test_hostile_queries_are_refused(w: Any, store: PartnerStore, params: dict,
                                     status: int) -> None:
    r = w.api.get("/v1/partners/breaks", params=params, headers=w.ops)
    assert r.status_code == status, r.text


def test_a_forensics_cursor_is_not_a_breaks_cursor(w: Any, store: PartnerStore) -> None:
    minted = w.api.get("/v1/partners/breaks", params={"limit": 1}, headers=w.ops).json()
    r = w.api.get("/v1/forensics/alerts", params={"cursor": minted["next_cursor"]},
                  headers=w.ops)
    assert r.status_code == 400


def test_the_reads_write_nothing_they_work_on_a_read_only_database(w: Any,
                                                                    store: PartnerStore) -> None:
    ro = read_only_engine(w.world.url)
    try:
        never = holdings(ro, "never-synced")  # no state row yet: none is created
        assert never == []
        held = {h.asset: h for h in holdings(ro, "warp") if h.client_ref == "client-7"}
        assert held["USDC"].units == UNITS
        assert deposit_addresses(ro) == {SUB: "warp:client-7"}
    finally:
        ro.dispose()
