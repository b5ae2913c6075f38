"""The rules of partner verification without a chain: each verdict of
:func:`keeper.partners.verify.check` on transactions described as the node would, the strict
wire models, and when the sync job runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from keeper.config import Settings
from keeper.jobs.scheduler import JobRun
from keeper.partners import PartnerProtocolError, PartnerTx
from keeper.partners import jobs as partner_jobs
from keeper.partners.chainscan import Move, TxFacts
from keeper.partners.client import _parse
from keeper.partners.store import now
from keeper.partners.verify import Reported, Requested, check
from strongroom_testkit.dbtemplate import fresh_url

SUB = "0x" + "aa" * 20
HOME = "0x" + "bb" * 20
OUTSIDER = "0x" + "cc" * 20
TX = "0x" + "11" * 32
SAFE = 100


def move(sender: str, recipient: str, amount: int = 500, asset: str = "USDC") -> Move:
    """A token movement at log index 3 of ``TX`` in block 90."""
    return Move(f"{TX}:3", TX, 90, asset, amount, sender, recipient, 3)


def facts(*moves: Move, sender: str = SUB, fee: int = 21, ok: bool = True, block: int = 90
          ) -> TxFacts:
    """The node's account of ``TX``."""
    return TxFacts(TX, block, ok, sender, fee, moves)


def withdrawal(amount: int = 500, fee: int = 21, to: str = HOME) -> Reported:
    """A reported USDC withdrawal from the sub-account."""
    return Reported("withdrawal", "USDC", amount, fee, SUB, to, TX, 3, 90)


def verdict(r: Reported, f: TxFacts | None, request: Requested | None = None, **kw: Any) -> str:
    """``status`` or ``status:kind`` of the check."""
    v = check(r, f, address=SUB, safe_block=SAFE, whitelist=frozenset({HOME}), request=request,
              request_open=kw.pop("request_open", False), **kw)
    return v.status if v.status != "break" else f"break:{v.kind}"


REQUEST = Requested("USDC", 500, HOME)


@pytest.mark.parametrize(("reported", "node", "asked", "expected"), [
    (withdrawal(), facts(move(SUB, HOME)), REQUEST, "verified"),
    (withdrawal(fee=20), facts(move(SUB, HOME)), REQUEST, "break:fee_mismatch"),
    (withdrawal(amount=499), facts(move(SUB, HOME)), REQUEST, "break:amount_mismatch"),
    (withdrawal(to=OUTSIDER), facts(move(SUB, OUTSIDER)), REQUEST, "break:unauthorised_destination"),
    (withdrawal(to=OUTSIDER), facts(move(SUB, HOME)), REQUEST, "break:address_mismatch"),
    (withdrawal(), facts(move(SUB, HOME)), None, "break:unrequested_withdrawal"),
    (withdrawal(), facts(move(SUB, HOME)), Requested("USDC", 400, HOME), "break:unrequested_withdrawal"),
    (withdrawal(), facts(move(OUTSIDER, HOME)), REQUEST, "break:address_mismatch"),
    (withdrawal(), facts(move(SUB, HOME, asset="USDT")), REQUEST, "break:missing_on_chain"),
    (withdrawal(), facts(move(SUB, HOME), ok=False), REQUEST, "break:missing_on_chain"),
    (withdrawal(), facts(move(SUB, HOME), block=SAFE + 1), REQUEST, "pending"),
    (withdrawal(), None, REQUEST, "break:missing_on_chain"),
    (Reported("withdrawal", "USDC", 500, 21, SUB, HOME, TX, 3, SAFE + 5), None, REQUEST, "pending"),
    (Reported("deposit", "USDC", 500, 0, OUTSIDER, SUB, TX, 3, 90),
     facts(move(OUTSIDER, SUB), sender=OUTSIDER), None, "verified"),
    (Reported("deposit", "USDC", 500, 21, OUTSIDER, SUB, TX, 3, 90),
     facts(move(OUTSIDER, SUB), sender=OUTSIDER), None, "break:fee_mismatch"),
    (Reported("deposit", "USDC", 500, 0, OUTSIDER, SUB, None, None, 90), None, None,
     "break:missing_on_chain"),
])
def test_each_verdict(reported: Reported, node: TxFacts | None, asked: Requested | None,
                      expected: str) -> None:
    assert verdict(reported, node, asked) == expected


def test_a_withdrawal_waits_for_our_unacknowledged_request_and_a_move_counts_once() -> None:
    assert verdict(withdrawal(), facts(move(SUB, HOME)), None, request_open=True) == "pending"
    claimed = frozenset({f"{TX}:3"})
    assert verdict(withdrawal(), facts(move(SUB, HOME)), REQUEST, claimed=claimed) == \
        "break:duplicate_report"


GOOD = {"id": "dep_1", "seq": 1, "client_ref": "c1", "kind": "deposit", "asset": "USDC",
        "amount": "5", "fee": "0", "from": OUTSIDER, "to": SUB, "tx_hash": TX, "log_index": 0,
        "block_number": 9, "status": "confirmed"}


@pytest.mark.parametrize("change", [
    {"amount": "-5"}, {"amount": "1e6"}, {"amount": 5}, {"amount": "9" * 60}, {"fee": "-1"},
    {"tx_hash": "0x" + "zz" * 32}, {"to": "0x" + "aa" * 19}, {"asset": "DOGE"}, {"seq": "1"},
    {"kind": "mint"}, {"credit_client": "x"}, {"client_ref": "a/../b"}, {"status": None},
])
def test_a_hostile_transaction_is_a_protocol_error(change: dict[str, Any]) -> None:
    assert _parse(PartnerTx, GOOD).amount == 5
    with pytest.raises(PartnerProtocolError):
        _parse(PartnerTx, {**GOOD, **change})


def test_the_job_does_nothing_without_a_partner_and_syncs_when_due(tmp_path: Any) -> None:
    class Host:
        settings = Settings(data_dir=tmp_path)
        ledger = None

    assert partner_jobs.sync(JobRun(Host(), "partners_sync", now())) is None
    fresh = {"last_ok_at": now(), "requested_at": None, "outage_since": None}
    assert not partner_jobs.due(fresh)
    assert partner_jobs.due({**fresh, "requested_at": now()})
    assert partner_jobs.due({**fresh, "outage_since": now()})
    assert partner_jobs.due({**fresh, "last_ok_at": now() - timedelta(seconds=61)})
    assert partner_jobs.due({**fresh, "last_ok_at": None})


def test_a_verified_zero_value_deposit_posts_nothing_and_fees_are_the_clients(tmp_path: Any) -> None:
    from keeper.ledger import Ledger
    from keeper.ledger import upgrade as upgrade_ledger
    from keeper.partners.postings import partner_location, transfers

    url = fresh_url(tmp_path / 'l.db')
    upgrade_ledger(url)
    with Ledger(url, group_commit=False) as lg:
        common = {"partner": "warp", "address": SUB, "client_ref": "c1", "asset": "USDC",
                  "move_key": f"{TX}:3", "tx_hash": TX, "block": 90}
        assert transfers(lg, kind="deposit", amount=0, fee=0, **common) == []
        (deposit,) = transfers(lg, kind="deposit", amount=5, fee=0, **common)
        held = lg.omnibus_account("USDC", partner_location("warp", SUB))
        assert (deposit.debit_account, deposit.credit_account) == (held, lg.client_account("c1", "USDC"))
        out, fee = transfers(lg, kind="withdrawal", amount=5, fee=21, **common)
        assert (out.debit_account, out.credit_account, out.amount) == (
            lg.client_account("c1", "USDC"), held, 5)
        assert (fee.debit_account, fee.amount) == (lg.client_account("c1", "ETH"), 21)
        assert fee.credit_account == lg.omnibus_account("ETH", partner_location("warp", SUB))


def test_a_second_move_in_a_reported_transaction_is_still_an_unreported_move(database: Any) -> None:
    from keeper.keys.secrets import Secret
    from keeper.ledger import Ledger
    from keeper.ledger import upgrade as upgrade_ledger
    from keeper.partners import PartnerCustody, WarpClient, upgrade
    from keeper.partners.service import SyncResult

    url = database("partners")  # SQLite and PostgreSQL
    upgrade_ledger(url)
    upgrade(url)
    other = "0x" + "dd" * 20
    with Ledger(url, group_commit=False) as lg:
        nowhere = WarpClient("http://127.0.0.1:9", Secret("never-called-0000"))  # not called
        custody = PartnerCustody(lg, nowhere, None, confirmations=2, whitelist=[HOME])  # type: ignore[arg-type]
        custody.store.add_account("c1", SUB)
        custody.store.add_account("c2", other)
        reported, hidden = move(OUTSIDER, SUB), Move(f"{TX}:4", TX, 90, "USDC", 9, OUTSIDER, other, 4)
        custody.store.add_moves([reported, hidden])
        custody.store.add_reports([_parse(PartnerTx, {**GOOD, "amount": "500", "log_index": 3})])
        (row,) = custody.store.reports("pending")
        with lg.engine.begin() as conn:
            custody.store.decide(conn, row["id"], "verified", reported)
        result = SyncResult("ok")
        custody._unreported(SAFE, SAFE, result)  # noqa: SLF001 - the rule under test
        nowhere.close()
    assert result.breaks == ["unreported_on_chain"]
    (found,) = custody.store.breaks()
    assert found["ref"] == f"move:{TX}:4"


def test_two_syncs_recording_the_same_new_report_do_not_fail(tmp_path: Any) -> None:
    from keeper.ledger import make_engine
    from keeper.partners import upgrade
    from keeper.partners.store import PartnerStore

    url = fresh_url(tmp_path / 'r.db')
    upgrade(url)
    engine = make_engine(url)
    try:
        first, second = PartnerStore(engine, "warp"), PartnerStore(engine, "warp")
        tx = _parse(PartnerTx, GOOD)
        other = _parse(PartnerTx, {**GOOD, "id": "dep_2", "seq": 2})
        first.add_reports([tx])
        second.add_reports([tx, other])  # a concurrent sync saw the same report first
        assert sorted(r["partner_tx_id"] for r in first.reports()) == ["dep_1", "dep_2"]
    finally:
        engine.dispose()


def test_a_queued_posting_the_ledger_refuses_is_a_break_and_moves_nothing(tmp_path: Any) -> None:
    from keeper.audit import upgrade as upgrade_audit
    from keeper.keys.secrets import Secret
    from keeper.ledger import Ledger
    from keeper.ledger import upgrade as upgrade_ledger
    from keeper.partners import PartnerCustody, WarpClient, upgrade
    from keeper.partners.service import SyncResult

    url = fresh_url(tmp_path / 'g.db')
    for migrate in (upgrade_ledger, upgrade_audit, upgrade):
        migrate(url)
    nowhere = WarpClient("http://127.0.0.1:9", Secret("never-called-0000"))  # not called
    with Ledger(url, group_commit=True) as lg:  # postings queued to the group committer
        custody = PartnerCustody(lg, nowhere, None, confirmations=2, whitelist=[HOME])  # type: ignore[arg-type]
        custody.store.add_account("c1", SUB)
        deposit = {**GOOD, "id": "dep_9", "amount": "500", "log_index": 3}
        spend = {**GOOD, "id": "wd_9", "seq": 2, "kind": "withdrawal", "amount": "900", "fee": "0",
                 "from": SUB, "to": HOME, "log_index": 4}
        custody.store.add_reports([_parse(PartnerTx, deposit), _parse(PartnerTx, spend)])
        rows = {r["partner_tx_id"]: r for r in custody.store.reports("pending")}
        queued = [custody._post(rows["dep_9"], SUB, move(OUTSIDER, SUB), 90),  # noqa: SLF001
                  custody._post(rows["wd_9"], SUB, Move(f"{TX}:4", TX, 90, "USDC", 900, SUB,  # noqa: SLF001
                                                        HOME, 4), 90)]
        result = SyncResult("ok")
        for outcome in queued:
            custody._settled(*outcome, result)  # noqa: SLF001
        client = lg.balance(lg.client_account("c1", "USDC")).credit_balance
    nowhere.close()
    assert (result.verified, result.breaks) == (1, ["ledger_refused"])
    assert client == 500  # the deposit only: the refused withdrawal moved nothing
    verdicts = {r["partner_tx_id"]: r["verdict"] for r in custody.store.reports()}
    assert verdicts == {"dep_9": "verified", "wd_9": "break"}
