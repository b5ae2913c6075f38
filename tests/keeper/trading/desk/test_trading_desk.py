"""The trading desk end to end over the three venue services (the session's calm venues): a
parent order is routed, its fills land once in the client's tax lots, the audit trail says
submitted / refused / finished; a refusal changes nothing; a crash between the fills and the lots
neither loses nor doubles a lot (a restart or the resume job records what is missing); a retry
with the same id returns the same execution; the CLI over the keeper's settings."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy.orm import Session

from keeper import clients
from keeper.audit import export
from keeper.config import ENVIRONMENT, Settings
from keeper.jobs.scheduler import JobRun
from keeper.keys.secrets import write_secret_file
from keeper.ledger import Ledger
from keeper.ledger.db import make_engine
from keeper.trading.__main__ import main as cli
from keeper.trading.desk import ClientRefusedError, TradingDesk
from keeper.trading.routing import OrderRefusedError, ParentMismatchError, ParentStatus
from keeper.trading.routing.jobs import resume
from keeper.trading.taxlots import TaxLotBook
from keeper.trading.types import ParentOrder, Side
from strongroom_testkit.dbtemplate import fresh_url
from strongroom_testkit.venues import venue_services  # noqa: F401  (session fixture)

BTC = 10**8
KYC_UNTIL = date(2099, 12, 31)


@pytest.fixture(scope="module")
def world(tmp_path_factory, venue_services):  # noqa: F811
    """A migrated database, the venue registry file (keys in 0600 files) and the settings."""
    d = tmp_path_factory.mktemp("desk")
    url = fresh_url(d / 'desk.db', migrated=True)
    registry = {"venues": []}
    for name, v in venue_services.items():
        write_secret_file(d / f"venue-{name}.key", v.api_key)
        registry["venues"].append({"id": name, "url": v.url, "api_key_file": f"venue-{name}.key"})
    (d / "venues.json").write_text(json.dumps(registry))
    settings = Settings(data_dir=d, database_url=url, trading_venues_file=d / "venues.json",
                        secrets_dir=d)
    engine = make_engine(url)
    ledger = Ledger(engine, group_commit=False)
    yield SimpleNamespace(settings=settings, engine=engine, ledger=ledger, venues=venue_services)
    ledger.close()
    engine.dispose()


@pytest.fixture
def desk(world):
    d = TradingDesk.from_settings(world.settings, world.engine, world.ledger.raise_alert)
    yield d
    d.close()


def new_client(world, country: str | None = "US", kyc: date | None = KYC_UNTIL,
               profile: bool = True) -> str:
    """A real client (keeper.clients' public API) with ``country`` and KYC valid until ``kyc``
    (``profile`` False: none set, the default profile); its id."""
    with Session(world.engine) as s:
        client = clients.create_client(s, world.ledger, "desk test client")
    if profile:
        clients.set_profile(world.engine, client.id, actor="test", kyc_valid_until=kyc,
                            country=country)
    return client.id


def parent(pid: str, client: str, amount: int, side: Side = Side.BUY,
           jurisdiction: str | None = "US",
           at: int = 1_800_000_000_000) -> ParentOrder:
    return ParentOrder(pid, client, "BTC/USD", side, amount, None, jurisdiction, "institutional", at)


def audit_of(engine, parent_id: str) -> list[tuple[str, object]]:
    """(operation, result) of the audit records about ``parent_id``, in order."""
    out = io.StringIO()
    export(engine, out)
    records = [json.loads(line)["record"] for line in out.getvalue().splitlines()]
    return [(r["operation"], r["result"]) for r in records
            if isinstance(r.get("params"), dict) and r["params"].get("parent_id") == parent_id]


def venue_fills(world) -> int:
    return sum(len(v.fills()) for v in world.venues.values())


def test_submit_routes_records_the_lots_once_and_audits(world, desk):
    c1 = new_client(world)
    ex = desk.submit(parent("d-buy-1", c1, 2 * BTC), actor="ops-1")
    assert ex.status == ParentStatus.FILLED and ex.filled == 2 * BTC
    assert len({f.venue for f in ex.fills}) >= 2  # split across venues
    held = desk.lots(c1)["BTC"]
    assert sum(x.quantity for x in held) == 2 * BTC
    assert sum(x.basis for x in held) == ex.notional + ex.fee  # fees in basis (the default)
    ops = audit_of(world.engine, "d-buy-1")
    assert [op for op, _ in ops] == ["trading.order.submitted", "trading.order.finished"]
    assert ops[1][1]["filled"] == str(2 * BTC)

    # a retry (another created_at, as a caller's clock gives) returns the same execution
    sent = venue_fills(world)
    again = desk.submit(parent("d-buy-1", c1, 2 * BTC, at=1_800_000_999_999))
    assert again == ex and venue_fills(world) == sent
    assert desk.lots(c1)["BTC"] == held
    assert [op for op, _ in audit_of(world.engine, "d-buy-1")][2:] == ["trading.order.submitted"]
    with pytest.raises(ParentMismatchError):  # the same id for another order: refused
        desk.submit(parent("d-buy-1", c1, 3 * BTC))

    report = desk.report("d-buy-1")
    assert report.filled == ex.filled and report.improvement == ex.improvement()
    assert "d-buy-1" in desk.report_html("d-buy-1")
    assert desk.report_pdf("d-buy-1").startswith(b"%PDF")

    # a sell consumes the lots (FIFO)
    sold = desk.submit(parent("d-sell-1", c1, BTC // 2, Side.SELL, at=1_800_000_100_000))
    assert sold.status == ParentStatus.FILLED
    assert sum(x.quantity for x in desk.lots(c1)["BTC"]) == 2 * BTC - BTC // 2


def test_a_refused_order_changes_nothing_but_the_audit(world, desk):
    c2 = new_client(world, "IR")
    sent = venue_fills(world)
    with pytest.raises(OrderRefusedError) as refused:  # the jurisdiction omitted: the profile's
        desk.submit(parent("d-ir-1", c2, BTC, jurisdiction=None))
    assert desk.router.store.parent("d-ir-1") is None
    with pytest.raises(KeyError):
        desk.execution("d-ir-1")
    assert desk.lots(c2) == {} and venue_fills(world) == sent
    ops = audit_of(world.engine, "d-ir-1")
    assert [op for op, _ in ops] == ["trading.order.submitted", "trading.order.refused"]
    assert ops[1][1] == {"rule": refused.value.decision.rule,
                         "reason": refused.value.decision.reason}
    assert "sanction" in refused.value.decision.rule


class Crash(BaseException):
    """The process dying between two writes."""


def crash_after(monkeypatch, book: TaxLotBook, n: int) -> None:
    """Make the book's process die after ``n`` more fills were recorded."""
    real, left = book.record_fill, [n]

    def record_fill(*args, **kwargs):
        if left[0] == 0:
            raise Crash()
        left[0] -= 1
        return real(*args, **kwargs)

    monkeypatch.setattr(book, "record_fill", record_fill)


@pytest.mark.parametrize("recorded", [0, 1])
def test_a_crash_between_fills_and_lots_loses_and_doubles_nothing(world, desk, monkeypatch,
                                                                  recorded):
    client, pid = new_client(world), f"d-crash-{recorded}"
    crash_after(monkeypatch, desk.book, recorded)
    with pytest.raises(Crash):
        desk.submit(parent(pid, client, 3 * BTC))
    ex = desk.execution(pid)
    assert ex.status == ParentStatus.FILLED and len(ex.fills) >= 2
    assert sum(x.quantity for x in desk.lots(client).get("BTC", [])) == \
        sum(f.amount for f in ex.fills[:recorded])
    if recorded == 0:  # the keeper's resume job records what is missing
        host = SimpleNamespace(settings=world.settings, ledger=world.ledger)
        resume(JobRun(host, "trading_routing_resume", datetime.now(UTC)))
    else:  # a restart does
        TradingDesk.from_settings(world.settings, world.engine, world.ledger.raise_alert).close()
    held = desk.lots(client)["BTC"]
    assert sum(x.quantity for x in held) == 3 * BTC
    assert sum(x.basis for x in held) == ex.notional + ex.fee
    assert len(held) == len(ex.fills)
    # and again: nothing changes
    TradingDesk.from_settings(world.settings, world.engine, world.ledger.raise_alert).close()
    resume(JobRun(SimpleNamespace(settings=world.settings, ledger=world.ledger),
                  "trading_routing_resume", datetime.now(UTC)))
    assert desk.lots(client)["BTC"] == held


def test_the_cli_routes_shows_reports_and_lists_lots(world, monkeypatch, tmp_path, capsys):
    gb, kp = new_client(world, "GB"), new_client(world, "KP")
    for field in ("database_url", "trading_venues_file", "secrets_dir", "data_dir"):
        monkeypatch.setenv(ENVIRONMENT[field], str(getattr(world.settings, field)))
    assert cli(["route", "--client", gb, "--symbol", "BTC/USD", "--side", "buy",
                "--amount", str(BTC), "--jurisdiction", "GB", "--client-type", "institutional",
                "--id", "d-cli-1"]) == 0
    routed = json.loads(capsys.readouterr().out)
    assert routed["status"] == "filled" and routed["filled"] == str(BTC)
    assert cli(["show", "d-cli-1"]) == 0
    assert json.loads(capsys.readouterr().out) == routed
    assert cli(["report", "d-cli-1", "--html", str(tmp_path / "r.html")]) == 0
    assert "d-cli-1" in (tmp_path / "r.html").read_text()
    assert cli(["lots", gb]) == 0
    lots = json.loads(capsys.readouterr().out)["lots"]
    assert sum(int(x["quantity"]) for x in lots) == BTC
    assert cli(["route", "--client", kp, "--symbol", "BTC/USD", "--side", "buy",
                "--amount", str(BTC), "--jurisdiction", "KP", "--client-type", "institutional"]) == 1
    # the client check refuses like the rules do (exit 1), and the KYC country is the default
    capsys.readouterr()
    assert cli(["route", "--client", gb, "--symbol", "BTC/USD", "--side", "buy",
                "--amount", str(BTC), "--jurisdiction", "CH", "--client-type", "institutional",
                "--id", "d-cli-2"]) == 1
    assert "client.jurisdiction" in capsys.readouterr().err
    assert cli(["route", "--client", gb, "--symbol", "BTC/USD", "--side", "buy",
                "--amount", str(BTC), "--client-type", "institutional", "--id", "d-cli-3"]) == 0
    assert json.loads(capsys.readouterr().out)["jurisdiction"] == "GB"
    assert cli(["show", "no-such-order"]) == 2


def test_fills_the_book_refuses_are_alerted_not_lost_and_block_nothing(world, desk):
    """A venue whose clock runs far ahead dates its fills "in the future" for the book: the
    routed order is still answered (its fills are real), an alert names the parent, the other
    parents' fills are still recorded, and once the clocks agree the fills land in the lots."""
    sane = desk.book
    desk.book = TaxLotBook(world.engine, clock=lambda: datetime(2020, 1, 1, tzinfo=UTC))
    skewed = new_client(world)
    ex = desk.submit(parent("d-skew-1", skewed, BTC))
    assert ex.status == ParentStatus.FILLED and ex.filled == BTC
    assert desk.lots(skewed) == {}
    assert ("trading.desk_lots_refused", "d-skew-1") in {
        (k, ref) for k, _, ref in world.ledger.alerts()}
    ok = desk.router.route(parent("d-skew-2", "desk-skew2", BTC))  # routed, lots not yet booked
    assert desk.book_finished(desk.clock() - 60_000) == 0  # the skewed book: nothing, no raise
    desk.book = sane
    assert desk.book_finished(desk.clock() - 60_000) == 2
    assert sum(x.quantity for x in desk.lots(skewed)["BTC"]) == BTC
    assert sum(x.quantity for x in desk.lots("desk-skew2")["BTC"]) == ok.filled


@pytest.mark.parametrize("case", ["unknown", "no-kyc", "expired", "suspended", "no-country",
                                  "mismatch"])
def test_the_client_is_checked_against_its_kyc_record_and_a_refusal_changes_nothing(
        world, desk, case):
    """An unknown client, one that may not trade (no or expired KYC, suspended), one without a
    country, or a jurisdiction other than its KYC country: refused before routing (nothing
    stored, sent or booked), the refusal audited with its rule."""
    if case == "unknown":
        client, rule = "no-such-client", "client.unknown"
    elif case == "no-kyc":
        client, rule = new_client(world, profile=False), "client.status"
    elif case == "expired":
        client, rule = new_client(world, kyc=date(2020, 1, 1)), "client.status"
    elif case == "suspended":
        client, rule = new_client(world), "client.status"
        clients.suspend_client(world.engine, client, "review", "test")
    elif case == "no-country":
        client, rule = new_client(world, country=None), "client.country"
    else:  # a US client typed in as CH routes around nothing
        client, rule = new_client(world), "client.jurisdiction"
    pid, sent = f"d-kyc-{case}", venue_fills(world)
    with pytest.raises(ClientRefusedError) as refused:
        desk.submit(parent(pid, client, BTC, jurisdiction="CH"))
    assert refused.value.rule == rule
    if case == "mismatch":
        assert "'CH'" in refused.value.reason and "'US'" in refused.value.reason
    assert desk.router.store.parent(pid) is None and venue_fills(world) == sent
    assert desk.lots(client) == {}
    ops = audit_of(world.engine, pid)
    assert [op for op, _ in ops] == ["trading.order.submitted", "trading.order.refused"]
    assert ops[1][1] == {"rule": rule, "reason": refused.value.reason}


def test_a_matching_or_omitted_jurisdiction_routes_under_the_kyc_country(world, desk):
    us = new_client(world)
    for pid, given in (("d-kyc-given", "US"), ("d-kyc-omitted", None)):
        ex = desk.submit(parent(pid, us, BTC // 4, jurisdiction=given))
        assert ex.status == ParentStatus.FILLED and ex.parent.jurisdiction == "US"
        assert desk.execution(pid).parent.jurisdiction == "US"
        assert "thirdex" not in {f.venue for f in ex.fills}  # the US rules forbid it
    # a retry without the jurisdiction is the same order
    assert desk.submit(parent("d-kyc-omitted", us, BTC // 4, jurisdiction=None)) == \
        desk.execution("d-kyc-omitted")
    assert sum(x.quantity for x in desk.lots(us)["BTC"]) == 2 * (BTC // 4)
