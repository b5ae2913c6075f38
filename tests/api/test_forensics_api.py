"""``/v1/forensics`` (scope ops): a trace from an address and from a transaction with the
compliance labels and the partners' deposit addresses marked, as JSON, CSV and dot downloads;
malformed or hostile query strings are 422 (never 500); anomaly alerts with their forensic chain
in cursor pages; no credential 401, a key without ``ops`` 403."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from keeper.audit import AuditRecord, AuditTrail
from keeper.compliance import LabelStore
from keeper.forensics import AnomalyPipeline, AuditSource, ChainSource, LedgerSource, default_detectors
from keeper.forensics.models import TransferRow
from keeper.partners.store import PartnerStore
from strongroom_testkit.forensics import T0, USDC_UNIT, addr, labels_csv
from strongroom_testkit.opsapi import ops_api

A, B, C, D = addr(0xA1), addr(0xB2), addr(0xC3), addr(0xD4)
TXS = ["0x" + f"{n:064x}" for n in range(1, 4)]


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A -> B -> C -> D (USDC), B a mixer by the compliance lists, C a partner sub-account;
    two signing bursts stored as anomaly alerts."""
    yield from ops_api(tmp_path_factory.mktemp("forensics-api"))


@pytest.fixture(scope="module", autouse=True)
def data(w: Any) -> None:
    rows = [{"block_number": 10 + i, "block_hash": "0x" + f"{10 + i:064x}",
             "block_time": T0 + timedelta(minutes=i), "tx_hash": TXS[i], "log_index": 0,
             "asset": "USDC", "token": addr(0x99), "sender": s, "recipient": r,
             "amount": str((5 - i) * USDC_UNIT)}
            for i, (s, r) in enumerate([(A, B), (B, C), (C, D)])]
    with w.engine.begin() as conn:
        conn.execute(insert(TransferRow), rows)
    LabelStore(w.engine).import_list("intel", labels_csv([(B, "mixer")]), "csv")
    PartnerStore(w.engine, "warp").add_account("client-7", C)
    trail = AuditTrail(w.engine)
    for n, signer in enumerate(["0xaa", "0xbb"]):
        trail.append([AuditRecord(f"safe-owner:{signer}", "safetx.propose",
                                  {"safe": addr(1), "safe_tx_hash": "0x" + f"{n * 10 + i:064x}",
                                   "to": addr(2), "value": "0", "operation": 0, "via": "api"},
                                  {"created": True}, at=T0 + timedelta(hours=n, seconds=5 * i))
                      for i in range(6)])
    trail.close()
    e = w.engine
    found = AnomalyPipeline(e, [ChainSource(e), LedgerSource(e), AuditSource(e)],
                            default_detectors()).run_until_idle()
    assert {a.detector for a in found} >= {"signing_burst"}


def test_every_route_needs_an_ops_credential(w: Any) -> None:
    for path in (f"/v1/forensics/trace?address={A}", "/v1/forensics/alerts"):
        r = w.api.get(path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = w.api.get(path, headers=w.read)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_a_trace_from_an_address_marks_labels_and_partner_addresses(w: Any) -> None:
    r = w.api.get("/v1/forensics/trace", params={"address": A.upper().replace("0X", "0x"),
                                                 "depth": 3}, headers=w.ops)
    assert r.status_code == 200, r.text
    body = r.json()
    nodes = {n["address"]: (n["depth"], n["labels"]) for n in body["nodes"]}
    assert nodes == {A: (0, []), B: (1, ["mixer"]), C: (2, ["partner:warp:client-7"]),
                     D: (3, [])}
    assert [e["tx_hash"] for e in body["edges"]] == TXS
    assert [e["amount"] for e in body["edges"]] == ["5000000", "4000000", "3000000"]
    short = w.api.get("/v1/forensics/trace", params={"address": A, "depth": 1}, headers=w.ops)
    assert {n["address"] for n in short.json()["nodes"]} == {A, B}


def test_a_trace_from_a_transaction_both_ways(w: Any) -> None:
    r = w.api.get("/v1/forensics/trace", params={"tx": TXS[1], "direction": "both", "depth": 1},
                  headers=w.ops)
    assert r.status_code == 200, r.text
    assert {n["address"] for n in r.json()["nodes"]} == {A, B, C, D}


def test_csv_and_dot_are_downloads(w: Any) -> None:
    r = w.api.get("/v1/forensics/trace", params={"address": A, "format": "csv"}, headers=w.ops)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="trace.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["sender"], x["recipient"], x["amount"]) for x in rows][0] == (A, B, "5000000")
    assert rows[1]["sender_labels"] == "mixer"
    assert rows[1]["recipient_labels"] == "partner:warp:client-7"
    r = w.api.get("/v1/forensics/trace", params={"address": A, "format": "dot"}, headers=w.ops)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/vnd.graphviz")
    assert r.text.startswith("digraph trace {") and f'"{A}" -> "{B}"' in r.text


@pytest.mark.parametrize("query", [
    {}, {"address": A, "tx": TXS[0]}, {"address": "0x12"}, {"address": A[:-1] + "g"},
    {"address": f"{A}' OR '1'='1"}, {"tx": TXS[0][:-2]}, {"tx": "0x" + "zz" * 32},
    {"address": A, "depth": 0}, {"address": A, "depth": 11}, {"address": A, "depth": "1e9"},
    {"address": A, "direction": "sideways"}, {"address": A, "format": "xml"},
    {"address": A, "fanout": 10**30}, {"address": A, "max_nodes": -1},
    {"address": "\x00" * 42}, {"address": A + "\n"},
])
def test_malformed_or_hostile_queries_are_422(w: Any, query: dict) -> None:
    r = w.api.get("/v1/forensics/trace", params=query, headers=w.ops)
    assert r.status_code == 422, (query, r.status_code, r.text)
    assert r.json()["error"]["code"] == "validation_error"


def test_alerts_with_their_chain_in_cursor_pages(w: Any) -> None:
    r = w.api.get("/v1/forensics/alerts", params={"limit": 1}, headers=w.ops)
    assert r.status_code == 200, r.text
    first = r.json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    alert = first["items"][0]
    assert alert["detector"] == "signing_burst" and alert["subject"] == "safe-owner:0xaa"
    assert len(alert["evidence"][0]["events"]) == 6
    r = w.api.get("/v1/forensics/alerts", params={"limit": 1, "cursor": first["next_cursor"]},
                  headers=w.ops)
    second = r.json()
    assert [a["subject"] for a in second["items"]] == ["safe-owner:0xbb"]
    assert second["items"][0]["id"] > alert["id"]
    everything = w.api.get("/v1/forensics/alerts", headers=w.ops).json()
    assert [a["id"] for a in everything["items"]] == [alert["id"], second["items"][0]["id"]]
    assert everything["next_cursor"] is None
    only = w.api.get("/v1/forensics/alerts", params={"detector": "fan_in"}, headers=w.ops)
    assert only.status_code == 200 and only.json()["items"] == []


@pytest.mark.parametrize("cursor", ["x", "eyJ2IjoxfQ", "%00", "a" * 201])
def test_a_foreign_or_forged_cursor_is_refused(w: Any, cursor: str) -> None:
    r = w.api.get("/v1/forensics/alerts", params={"cursor": cursor}, headers=w.ops)
    assert r.status_code in (400, 422) and r.json()["error"]["code"] in (
        "bad_request", "validation_error")
    minted = w.api.get("/v1/forensics/alerts", params={"limit": 1}, headers=w.ops).json()
    r = w.api.get("/v1/forensics/alerts", params={"cursor": minted["next_cursor"],
                                                  "detector": "signing_burst"}, headers=w.ops)
    assert r.status_code == 400  # minted for another filter
