"""Re-screening: every client against a list version (the daily job), and at once when a list is
updated; a refused list update re-screens nothing and changes nothing."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from keeper.compliance import (
    ClientRecord,
    Decision,
    ListFormatError,
    ScreeningService,
    rescreen,
)

FIXTURES = Path(__file__).with_name("fixtures")
CLIENTS = [
    ClientRecord("c1", "Leila Mendoza", "MX", "1985-02-03"),
    ClientRecord("c2", "Peter Lindqvist", "SE", "1970-01-01"),
    ClientRecord("c3", "Renee Dubois", "FR", "1980-07-01"),
    ClientRecord("c4", "Alexander Volkovskiy", "DE", None),
]


def _list(names: list[str]) -> bytes:
    return json.dumps({"format": "strongroom-list/1", "entries": [
        {"uid": f"X{i}", "kind": "person", "names": [n]} for i, n in enumerate(names)]}).encode()


def test_rescreen_takes_plain_records_and_reports_hits(store):
    version = store.import_list("INTERNAL", FIXTURES / "list.json", "own-json")
    plain = [(c.id, c.name, c.country, c.birth_date) for c in CLIENTS]
    hits = rescreen(plain, version)
    assert [h.client_id for h in hits] == ["c1"]
    match = hits[0].result.matches[0]
    assert (match.list_name, match.list_version, match.entry.uid) == ("INTERNAL", 1, "INT-1")
    assert hits[0].result.decision is Decision.DECLINE_SAR


def test_list_update_rescreens_every_client_at_once(store):
    seen = []
    service = ScreeningService(store, lambda: CLIENTS, on_hits=lambda v, h: seen.append((v, h)))
    assert service.daily_rescreen() == []  # no list yet: nothing to match
    version, hits = service.import_list("EU", FIXTURES / "list.csv", "own-csv")
    assert version.version == 1 and [h.client_id for h in hits] == ["c3"]
    assert seen[-1][0] == version and seen[-1][1] == hits
    # the transaction path already uses the new version
    assert service.screen_transaction("0x151b6d4757681616a33d53b6a5b14fa5acf5164e", None
                                      ).decision is Decision.DECLINE_SAR
    # an update adding a name hits the client that matches it, and only against the new version
    _, hits = service.import_list("EU", _list(["DUBOIS, Renee", "LINDQVIST, Peter"]), "own-json")
    assert {h.client_id for h in hits} == {"c2", "c3"}
    assert all(m.list_version == 2 for h in hits for m in h.result.matches)
    assert service.screen_transaction("0x151b6d4757681616a33d53b6a5b14fa5acf5164e", None
                                      ).decision is Decision.PASS  # v2 no longer lists it


def test_refused_update_keeps_screening_on_the_current_version(store):
    seen = []
    service = ScreeningService(store, lambda: CLIENTS, on_hits=lambda v, h: seen.append(v))
    service.import_list("EU", FIXTURES / "list.csv", "own-csv")
    before = service.screener
    with pytest.raises(ListFormatError):
        service.import_list("EU", (FIXTURES / "list.csv").read_bytes()[:-12], "own-csv")
    assert service.screener is before and len(seen) == 1
    assert [h.client_id for h in service.daily_rescreen()] == ["c3"]


def test_daily_rescreen_spans_every_current_list(store):
    store.import_list("EU", FIXTURES / "list.csv", "own-csv")
    store.import_list("OFAC-SDN", FIXTURES / "sdn_advanced.xml", "ofac-advanced-xml")
    service = ScreeningService(store, lambda: CLIENTS)
    hits = {h.client_id: h for h in service.daily_rescreen()}
    assert set(hits) == {"c3", "c4"}
    assert hits["c4"].result.matches[0].list_name == "OFAC-SDN"
    assert hits["c4"].result.list_versions == ("EU@v1", "OFAC-SDN@v1")


def test_service_keeps_its_index_out_of_the_cyclic_gc(store):
    """A full collection walking a 1M-address index costs ~0.5 s of CPU (measured): every screener
    the service builds is frozen out of the GC's reach."""
    gc.unfreeze()
    service = ScreeningService(store, lambda: CLIENTS)
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    service.import_list("EU", FIXTURES / "list.csv", "own-csv")
    assert gc.get_freeze_count() > 0
