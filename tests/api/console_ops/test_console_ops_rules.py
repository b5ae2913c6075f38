"""The compliance and treasury pages' rules, in process: who may read and who may act, CSRF on
every form, a refused action changes nothing, every action audited, downloads audited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from keeper.compliance import ComplianceService, RuleSet
from keeper.recon import BreakBook, Status
from strongroom_testkit.browser import form_login, post_form
from strongroom_testkit.consoleops import OpsWorld, audit_ops


class Logins:
    """One signed-in client per login for the module (the console throttles sign-ins to 5 a
    minute per login): ``as_(login)`` gives the client and its session's CSRF token."""

    def __init__(self, app: Any) -> None:
        self.app, self.done = app, {}

    def as_(self, login: str) -> tuple[TestClient, str]:
        if login not in self.done:
            client = TestClient(self.app, follow_redirects=False)  # the lifespan is `web`'s
            self.done[login] = (client, form_login(client, login))
        return self.done[login]


@pytest.fixture(scope="module")
def logins(web: TestClient) -> Logins:
    return Logins(web.app)


COMPLIANCE_PAGES = ["/console/compliance/", "/console/compliance/alerts"]
TREASURY_PAGES = ["/console/treasury/"]


def case_state(ow: OpsWorld, case_id: int) -> tuple[Any, ...]:
    svc = ComplianceService(ow.engine, RuleSet.load())
    from api.console.compliance import case

    v = case(svc, case_id)
    assert v is not None
    return v.case.status, v.case.outcome, v.case.assignee, len(v.steps), len(v.proposals)


def break_state(ow: OpsWorld, break_id: int) -> tuple[Any, ...]:
    book = BreakBook(ow.engine)
    (b,) = [b for b in book.breaks() if b.id == break_id]
    return b.status, b.note, book.halted()


def audit_count(ow: OpsWorld) -> int:
    from sqlalchemy import func, select

    from keeper.audit.models import AuditRow

    with ow.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(AuditRow)) or 0)


@pytest.mark.parametrize("login", ["compliance", "auditor"])
def test_compliance_pages_read_for_compliance_and_auditor(logins: Logins, ow: OpsWorld,
                                                          login: str) -> None:
    web, _ = logins.as_(login)
    for path in [*COMPLIANCE_PAGES, f"/console/compliance/cases/{ow.cases[3]}"]:
        r = web.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
    page = web.get(f"/console/compliance/cases/{ow.cases[3]}").text
    assert ('id="close-form"' in page) is (login == "compliance")  # the auditor reads only
    assert "<svg" in page and "&lt;script&gt;alert(1)" in page and "<script>alert" not in page


@pytest.mark.parametrize("login", ["treasury", "ops", "auditor"])
def test_treasury_pages_read_for_treasury_ops_and_auditor(logins: Logins, ow: OpsWorld,
                                                          login: str) -> None:
    web, _ = logins.as_(login)
    for path in [*TREASURY_PAGES, f"/console/treasury/recon/{ow.run_id}"]:
        assert web.get(path).status_code == 200, path
    page = web.get("/console/treasury/").text
    assert ("/resolve" in page) is (login == "treasury")
    assert "out of band" in page and 'id="open-breaks"' in page


@pytest.mark.parametrize("login", ["treasury", "ops", "signer", "alice"])
def test_other_roles_cannot_reach_compliance(logins: Logins, ow: OpsWorld, login: str) -> None:
    web, csrf = logins.as_(login)
    for path in [*COMPLIANCE_PAGES, f"/console/compliance/cases/{ow.cases[3]}",
                 f"/console/compliance/reports/{ow.sars[3]}.pdf"]:
        assert web.get(path).status_code == 403, path
    before = case_state(ow, ow.cases[3])
    r = post_form(web, f"/console/compliance/cases/{ow.cases[3]}/close", {"reason": "mine"}, csrf)
    assert r.status_code == 403
    assert case_state(ow, ow.cases[3]) == before


@pytest.mark.parametrize("login", ["compliance", "signer", "alice"])
def test_other_roles_cannot_reach_treasury(logins: Logins, ow: OpsWorld, login: str) -> None:
    web, csrf = logins.as_(login)
    assert web.get("/console/treasury/").status_code == 403
    assert web.get(f"/console/treasury/recon/{ow.run_id}/report.pdf").status_code == 403
    before = break_state(ow, ow.breaks["investigate"])
    r = post_form(web, f"/console/treasury/breaks/{ow.breaks['investigate']}/resolve",
                  {"note": "looks fine"}, csrf)
    assert r.status_code == 403
    assert break_state(ow, ow.breaks["investigate"]) == before


def test_read_only_roles_cannot_act(logins: Logins, ow: OpsWorld) -> None:
    web, csrf = logins.as_("auditor")
    before, audits = case_state(ow, ow.cases[3]), audit_ops(ow.engine, "compliance.case.assign")
    for action, data in [("close", {"reason": "r"}), ("assign", {"assignee": "auditor"}),
                         ("decide", {"outcome": "confirm", "note": "n"})]:
        r = post_form(web, f"/console/compliance/cases/{ow.cases[3]}/{action}", data, csrf)
        assert r.status_code == 403, action
    assert case_state(ow, ow.cases[3]) == before
    assert audit_ops(ow.engine, "compliance.case.assign") == audits
    web, csrf = logins.as_("ops")
    before = break_state(ow, ow.breaks["investigate"])
    r = post_form(web, f"/console/treasury/breaks/{ow.breaks['investigate']}/resolve",
                  {"note": "n"}, csrf)
    assert r.status_code == 403 and break_state(ow, ow.breaks["investigate"]) == before


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(logins: Logins,
                                                                      ow: OpsWorld) -> None:
    web, _ = logins.as_("compliance")
    before, n = case_state(ow, ow.cases[3]), audit_count(ow)
    r = post_form(web, f"/console/compliance/cases/{ow.cases[3]}/close", {"reason": "r"}, None)
    assert r.status_code == 403
    r = post_form(web, f"/console/compliance/cases/{ow.cases[3]}/close", {"reason": "r"}, "x" * 43)
    assert r.status_code == 403
    assert case_state(ow, ow.cases[3]) == before
    assert not [x for x in audit_ops(ow.engine, "compliance.case.close")
                if x["params"]["case"] == ow.cases[3]]
    assert audit_count(ow) >= n  # only request records were added
    web, _ = logins.as_("treasury")
    before = break_state(ow, ow.breaks["investigate"])
    r = post_form(web, f"/console/treasury/breaks/{ow.breaks['investigate']}/resolve",
                  {"note": "n"}, None)
    assert r.status_code == 403 and break_state(ow, ow.breaks["investigate"]) == before


def test_refused_compliance_steps_change_nothing(logins: Logins, ow: OpsWorld) -> None:
    web, csrf = logins.as_("compliance")
    cid = ow.cases[3]
    before = case_state(ow, cid)
    for action, data in [("close", {"reason": "  "}), ("assign", {"assignee": ""}),
                         ("escalate", {"to": "mlro", "reason": ""}),
                         ("decide", {"outcome": "confirm", "note": ""}),
                         (f"reports/{ow.sars[3]}/file", {"reference": ""}),
                         (f"reports/{ow.sars[0]}/file", {"reference": "FIN-1"})]:  # another case's
        r = post_form(web, f"/console/compliance/cases/{cid}/{action}", data, csrf)
        assert r.status_code == 409, action
        assert "Nothing was changed" in r.text
    assert case_state(ow, cid) == before
    assert post_form(web, f"/console/compliance/cases/{10**9}/close", {"reason": "r"},
                     csrf).status_code == 404


def test_four_eyes_clear_is_proposed_and_the_proposer_cannot_approve(logins: Logins,
                                                                     ow: OpsWorld) -> None:
    web, csrf = logins.as_("compliance")
    cid = ow.cases[3]
    r = post_form(web, f"/console/compliance/cases/{cid}/decide",
                  {"outcome": "clear", "note": "customer proved the source"}, csrf)
    assert r.status_code == 303 and r.headers["location"].endswith("done=proposed")
    status, outcome, _, steps, proposals = case_state(ow, cid)
    assert (status, outcome, proposals) == ("open", None, 1)
    page = web.get(f"/console/compliance/cases/{cid}").text
    assert "Clearing proposed" not in page and 'value="approve"' not in page  # not to its proposer
    from api.console.compliance import case

    (p,) = case(ComplianceService(ow.engine, RuleSet.load()), cid).proposals  # type: ignore[union-attr]
    r = post_form(web, f"/console/compliance/cases/{cid}/proposals/{p['id']}",
                  {"verdict": "approve"}, csrf)
    assert r.status_code == 409 and "proposer cannot approve" in r.text
    assert case_state(ow, cid) == (status, outcome, None, steps, 1)


def test_filing_a_sar_draft_is_recorded_and_audited(logins: Logins, ow: OpsWorld) -> None:
    web, csrf = logins.as_("compliance")
    cid, rid = ow.cases[3], ow.sars[3]
    r = post_form(web, f"/console/compliance/cases/{cid}/reports/{rid}/file",
                  {"reference": "FINCEN-2026-0042"}, csrf)
    assert r.status_code == 303
    from api.console.compliance import reports

    assert [x.status for x in reports(ow.engine, case_id=cid)] == ["filed"]
    (rec,) = [x for x in audit_ops(ow.engine, "compliance.report.filed")
              if x["params"]["report"] == rid]
    assert rec["actor"] == "console:compliance" and rec["params"]["reference"] == "FINCEN-2026-0042"
    again = post_form(web, f"/console/compliance/cases/{cid}/reports/{rid}/file",
                      {"reference": "FINCEN-2026-0043"}, csrf)
    assert again.status_code == 409  # filed once


def test_downloads_are_served_and_audited(logins: Logins, ow: OpsWorld) -> None:
    web, _ = logins.as_("auditor")
    r = web.get(f"/console/compliance/reports/{ow.sars[0]}.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert web.get(f"/console/compliance/reports/{10**9}.pdf").status_code == 404
    r = web.get(f"/console/treasury/recon/{ow.run_id}/report.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    got = [x for x in audit_ops(ow.engine, "console.compliance.report.download")
           if x["params"] == {"report": ow.sars[0], "format": "pdf"}]
    assert got and got[-1]["actor"] == "console:auditor"
    assert [x for x in audit_ops(ow.engine, "console.treasury.recon.download")
            if x["params"]["run"] == ow.run_id and x["actor"] == "console:auditor"]


def test_resolving_breaks_needs_a_note_and_resumes_transactions(logins: Logins,
                                                                ow: OpsWorld) -> None:
    web, csrf = logins.as_("treasury")
    crit = ow.breaks["critical"]
    before = break_state(ow, crit)
    assert before == (Status.OPEN, None, True)
    r = post_form(web, f"/console/treasury/breaks/{crit}/resolve", {"note": "   "}, csrf)
    assert r.status_code == 409 and "note" in r.text
    assert break_state(ow, crit) == before
    r = post_form(web, f"/console/treasury/breaks/{crit}/resolve",
                  {"note": "vault balance confirmed on chain"}, csrf)
    assert r.status_code == 303
    assert break_state(ow, crit) == (Status.RESOLVED, "vault balance confirmed on chain", False)
    (rec,) = [x for x in audit_ops(ow.engine, "recon.break.resolve")
              if x["params"]["break_id"] == crit]
    assert rec["actor"] == "console:treasury"
    assert [x["actor"] for x in audit_ops(ow.engine, "recon.breaker.resume")] == ["console:treasury"]
    again = post_form(web, f"/console/treasury/breaks/{crit}/resolve", {"note": "again"}, csrf)
    assert again.status_code == 409 and "not open" in again.text
    assert "open for business" in web.get("/console/treasury/").text


def test_assign_and_escalate_go_through_the_service_and_are_audited(logins: Logins,
                                                                     ow: OpsWorld) -> None:
    web, csrf = logins.as_("compliance")
    cid = ow.cases[4]
    r = post_form(web, f"/console/compliance/cases/{cid}/assign", {"assignee": "analyst-1"}, csrf)
    assert r.status_code == 303 and case_state(ow, cid)[2] == "analyst-1"
    r = post_form(web, f"/console/compliance/cases/{cid}/escalate",
                  {"to": "mlro", "reason": "exposure above the desk's authority"}, csrf)
    assert r.status_code == 303 and r.headers["location"].endswith("done=escalated")
    status, _, assignee, *_ = case_state(ow, cid)
    assert (status, assignee) == ("open", "mlro")
    (ev,) = [x for x in audit_ops(ow.engine, "compliance.case.evidence")
             if x["params"]["case"] == cid]
    assert ev["actor"] == "console:compliance"
    assert ev["params"]["escalation"] == "exposure above the desk's authority"
    assert [x["params"]["assignee"] for x in audit_ops(ow.engine, "compliance.case.assign")
            if x["params"]["case"] == cid] == ["analyst-1", "mlro"]
    assert "Case escalated." in web.get(r.headers["location"]).text


def test_the_trace_starts_where_the_officer_says_within_the_apis_bounds(logins: Logins,
                                                                        ow: OpsWorld) -> None:
    web, _ = logins.as_("auditor")
    page = f"/console/compliance/cases/{ow.cases[2]}"
    tx = "0x" + f"{2:064x}"  # the movement A -> mixer
    r = web.get(page, params={"start": tx, "direction": "out", "depth": 1})
    assert r.status_code == 200 and 'id="trace-graph"' in r.text
    assert "+1 hop" in r.text and "\u26a0 mixer" in r.text and "own:vault" not in r.text
    for bad in ("0x1234", "vault", "0x" + "zz" * 20):
        assert web.get(page, params={"start": bad}).status_code == 400, bad
    for query in ({"depth": 11}, {"fanout": 26}, {"max_nodes": 501}, {"direction": "sideways"}):
        assert web.get(page, params=query).status_code == 400, query  # the console refuses
