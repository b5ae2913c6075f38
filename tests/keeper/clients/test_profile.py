"""Client profiles: defaults, validated changes, unique bank customer ids, status changes that are
audited in the same transaction, and refused changes that change nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from keeper.clients import (
    ClientProfile,
    DuplicateBankCustomer,
    InvalidProfile,
    InvalidStatusChange,
    UnknownClient,
    client_for_bank_customer,
    close_client,
    effective_limits,
    get_profile,
    get_profiles,
    list_profiles,
    reactivate_client,
    set_profile,
    suspend_client,
)
from keeper.config import Settings

OFFICER = "ops.alice"


def _audit(db: Engine) -> list[dict]:
    with db.connect() as conn:
        bodies = conn.execute(text("SELECT body FROM audit_records ORDER BY seq")).scalars()
        return [json.loads(b)["record"] for b in bodies]


def _ops(db: Engine) -> list[str]:
    return [r["operation"] for r in _audit(db) if r["operation"].startswith("clients.")]


def test_default_profile_is_active_without_kyc(db: Engine, new_client: Callable[[str], str]) -> None:
    cid = new_client("Acme Treasury")
    profile = get_profile(db, cid)
    assert profile == ClientProfile(cid)
    assert profile.refusal(date(2026, 11, 23)) == "client has no valid KYC"
    with pytest.raises(UnknownClient):
        get_profile(db, "no-such-client")


def test_set_profile_stores_validated_values_and_audits(db: Engine,
                                                        new_client: Callable[[str], str]) -> None:
    cid = new_client("Acme Treasury")
    with Session(db) as session:
        p = set_profile(session, cid, actor=OFFICER, kyc_valid_until=date(2027, 6, 30),
                        bank_customer_id="ATL-000123", country="de",
                        buy_daily_limit_cents=1_000_000_00)
    assert (p.country, p.bank_customer_id, p.kyc_valid_until) == ("DE", "ATL-000123",
                                                                  date(2027, 6, 30))
    assert get_profile(db, cid) == p
    assert p.may_trade(date(2027, 6, 30)) and not p.may_trade(date(2027, 7, 1))
    assert client_for_bank_customer(db, "ATL-000123") == p
    set_profile(db, cid, actor=OFFICER, country="DE")  # unchanged: no write, no record
    records = [r for r in _audit(db) if r["operation"] == "clients.profile.set"]
    assert len(records) == 1
    assert records[0]["actor"] == OFFICER
    assert records[0]["params"]["country"] == "DE"
    assert records[0]["params"]["kyc_valid_until"] == "2027-06-30"


def test_effective_limits_use_overrides_else_settings(db: Engine,
                                                      new_client: Callable[[str], str]) -> None:
    settings = Settings()
    cid = new_client("Acme Treasury")
    base = effective_limits(get_profile(db, cid), settings)
    assert (base.buy_single_cents, base.buy_daily_cents, base.sell_daily_cents) == (
        settings.buy_single_limit_cents, settings.buy_daily_limit_cents,
        settings.sell_daily_limit_cents)
    set_profile(db, cid, actor=OFFICER, buy_single_limit_cents=0, sell_daily_limit_cents=7)
    lim = effective_limits(get_profile(db, cid), settings)
    assert (lim.buy_single_cents, lim.buy_daily_cents, lim.sell_daily_cents) == (
        0, settings.buy_daily_limit_cents, 7)
    set_profile(db, cid, actor=OFFICER, buy_single_limit_cents=None)  # None: back to default
    assert effective_limits(get_profile(db, cid), settings).buy_single_cents == (
        settings.buy_single_limit_cents)


@pytest.mark.parametrize("field,value", [
    ("country", "DEU"), ("country", "1A"), ("country", ""), ("country", 49),
    ("bank_customer_id", ""), ("bank_customer_id", "x" * 65), ("bank_customer_id", "a b"),
    ("bank_customer_id", "a\nb"), ("buy_single_limit_cents", -1),
    ("buy_single_limit_cents", 1.5), ("buy_single_limit_cents", True),
    ("buy_daily_limit_cents", 10**19), ("kyc_valid_until", "2027-01-01"),
])
def test_hostile_values_are_refused_and_change_nothing(db: Engine, new_client: Callable[[str], str],
                                                       field: str, value: object) -> None:
    cid = new_client("Acme Treasury")
    set_profile(db, cid, actor=OFFICER, country="FR")
    before, ops = get_profile(db, cid), _ops(db)
    other = {"kyc_valid_until": date(2030, 1, 1)} if field != "kyc_valid_until" else {"country": "GB"}
    with pytest.raises(InvalidProfile):  # refused whole: the valid field is not set either
        set_profile(db, cid, actor=OFFICER, **other, **{field: value})
    assert get_profile(db, cid) == before
    assert _ops(db) == ops


def test_bank_customer_id_is_unique(db: Engine, new_client: Callable[[str], str]) -> None:
    a, b = new_client("A"), new_client("B")
    set_profile(db, a, actor=OFFICER, bank_customer_id="ATL-1")
    with Session(db) as session:
        with pytest.raises(DuplicateBankCustomer):
            set_profile(session, b, actor=OFFICER, bank_customer_id="ATL-1", country="NL")
        assert get_profile(session, b) == ClientProfile(b)  # refused: country not set either
    assert client_for_bank_customer(db, "ATL-1").client_id == a  # type: ignore[union-attr]
    assert client_for_bank_customer(db, "ATL-2") is None
    assert client_for_bank_customer(db, "ATL-1' OR 1=1 --") is None
    assert client_for_bank_customer(db, None) is None  # type: ignore[arg-type]


def test_suspend_reactivate_close_are_audited(db: Engine, new_client: Callable[[str], str]) -> None:
    cid = new_client("Acme Treasury")
    set_profile(db, cid, actor=OFFICER, kyc_valid_until=date(2030, 1, 1))
    p = suspend_client(db, cid, "court order 17/2026", OFFICER)
    assert p.status == "suspended" and p.status_reason == "court order 17/2026"
    assert p.refusal(date(2026, 11, 23)) == "client is suspended"
    assert suspend_client(db, cid, "again", OFFICER) == p  # already suspended: no change
    assert reactivate_client(db, cid, "order lifted", "ops.bob").may_trade(date(2026, 11, 23))
    close_client(db, cid, "relationship ended", OFFICER)
    with pytest.raises(InvalidStatusChange):
        reactivate_client(db, cid, "reopen", OFFICER)
    with pytest.raises(InvalidStatusChange):
        set_profile(db, cid, actor=OFFICER, country="US")
    assert get_profile(db, cid).status == "closed"
    assert _ops(db) == ["clients.profile.set", "clients.status.suspended",
                        "clients.status.active", "clients.status.closed"]
    suspended = [r for r in _audit(db) if r["operation"] == "clients.status.suspended"][0]
    assert suspended["params"] == {"client": cid, "from": "active",
                                   "reason": "court order 17/2026"}


def test_status_change_needs_reason_and_actor(db: Engine, new_client: Callable[[str], str]) -> None:
    cid = new_client("Acme Treasury")
    for reason, actor in (("", OFFICER), ("  ", OFFICER), ("why", ""), ("x" * 501, OFFICER)):
        with pytest.raises(InvalidProfile):
            suspend_client(db, cid, reason, actor)
    with pytest.raises(UnknownClient):
        suspend_client(db, "nobody", "why", OFFICER)
    assert get_profile(db, cid).status == "active" and _ops(db) == []


def test_change_in_callers_transaction_rolls_back_with_it(db: Engine,
                                                          new_client: Callable[[str], str]) -> None:
    cid = new_client("Acme Treasury")
    with db.connect() as conn:
        conn.begin()
        suspend_client(conn, cid, "review", OFFICER)
        assert get_profile(conn, cid).status == "suspended"
        conn.rollback()
    assert get_profile(db, cid).status == "active"
    assert _ops(db) == []


def test_list_profiles_includes_defaults(db: Engine, new_client: Callable[[str], str]) -> None:
    a, b = new_client("A"), new_client("B")
    set_profile(db, b, actor=OFFICER, country="CH")
    listed = {cid: (name, p.country) for cid, name, p in list_profiles(db)}
    assert listed == {a: ("A", None), b: ("B", "CH")}


def test_many_profiles_read_at_once_equal_one_by_one(db: Engine,
                                                      new_client: Callable[[str], str]) -> None:
    plain, kyc, suspended = new_client("Plain"), new_client("KYC"), new_client("Suspended")
    set_profile(db, kyc, actor=OFFICER, kyc_valid_until=date(2027, 1, 1), country="GB")
    suspend_client(db, suspended, "review", OFFICER)
    asked = [plain, kyc, suspended, "no-such-client", "x" * 37, 42, plain]
    found = get_profiles(db, asked)
    assert found == {c: get_profile(db, c) for c in (plain, kyc, suspended)}
    assert found[suspended].status != "active" and found[kyc].country == "GB"
    assert get_profiles(db, []) == {}
