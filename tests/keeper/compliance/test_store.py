"""Imports are atomic and versioned: a refused or failed import never replaces the current list,
and the previous version is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from keeper.compliance import ListFormatError, ListShrinkError

FIXTURES = Path(__file__).with_name("fixtures")


def _json(n: int, start: int = 0) -> bytes:
    return json.dumps({"format": "strongroom-list/1", "entries": [
        {"uid": f"U{i}", "kind": "person", "names": [f"PERSON{i}, Given"],
         "addresses": [{"currency": "ETH", "address": "0x" + f"{i:040x}"}]}
        for i in range(start, start + n)]}).encode()


def test_import_roundtrips_every_format(store):
    for name, fmt, file in (("OFAC-SDN", "ofac-advanced-xml", "sdn_advanced.xml"),
                            ("OFAC-LEGACY", "ofac-sdn-xml", "sdn.xml"),
                            ("OFAC-CSV", "ofac-sdn-csv", "SDN.CSV"),
                            ("EU", "own-csv", "list.csv"), ("INTERNAL", "own-json", "list.json")):
        imported = store.import_list(name, FIXTURES / file, fmt)
        assert imported.version == 1
        loaded = store.current(name)
        assert loaded is not None
        assert loaded.entries == imported.entries  # names, addresses, countries, dates survive
        assert loaded.imported_at.tzinfo is not None and loaded.imported_at.utcoffset().total_seconds() == 0
    assert [v.list_name for v in store.current_all()] == ["EU", "INTERNAL", "OFAC-CSV", "OFAC-LEGACY",
                                                         "OFAC-SDN"]


def test_new_version_becomes_current_and_previous_is_kept(store):
    v1 = store.import_list("EU", _json(10), "own-json")
    v2 = store.import_list("EU", _json(12), "own-json")
    assert (v1.version, v2.version) == (1, 2)
    assert [(v, cur, n) for v, cur, n, _ in store.versions("EU")] == [(1, False, 10), (2, True, 12)]
    assert len(store.current("EU").entries) == 12
    assert len(store.load("EU", 1).entries) == 10


def test_same_file_twice_adds_no_version(store):
    store.import_list("EU", _json(10), "own-json")
    again = store.import_list("EU", _json(10), "own-json")
    assert again.version == 1 and len(store.versions("EU")) == 1


@pytest.mark.parametrize("bad", [_json(12)[:-30], b"<html>502 Bad Gateway</html>", b""])
def test_refused_file_keeps_current_list(store, bad):
    store.import_list("EU", _json(10), "own-json")
    with pytest.raises(ListFormatError):
        store.import_list("EU", bad, "own-json")
    assert [(v, cur) for v, cur, _, _ in store.versions("EU")] == [(1, True)]
    assert len(store.current("EU").entries) == 10


def test_partial_but_well_formed_list_is_refused_unless_forced(store):
    store.import_list("EU", _json(100), "own-json")
    with pytest.raises(ListShrinkError, match="partial"):
        store.import_list("EU", _json(30), "own-json")
    assert len(store.current("EU").entries) == 100
    forced = store.import_list("EU", _json(30), "own-json", allow_shrink=True)
    assert forced.version == 2 and len(store.current("EU").entries) == 30


def test_failure_while_writing_rolls_back_everything(store, engine):
    """A database error in the middle of writing a version (injected with a real trigger/rule on the
    address table) leaves no trace: no new version, no orphan rows, the old one current."""
    store.import_list("EU", _json(10), "own-json")
    poison = "0x" + f"{15:040x}"
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(
                "CREATE TRIGGER poison BEFORE INSERT ON compliance_entry_addresses "
                f"WHEN NEW.address = '{poison}' BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
        else:
            conn.execute(text(
                "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.address = '{poison}' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; "
                "END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER poison BEFORE INSERT ON compliance_entry_addresses "
                              "FOR EACH ROW EXECUTE FUNCTION poison()"))
    with pytest.raises(Exception, match="disk full"):
        store.import_list("EU", _json(20), "own-json")
    assert [(v, cur) for v, cur, _, _ in store.versions("EU")] == [(1, True)]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM compliance_entries")) == 10
        assert conn.scalar(text("SELECT count(*) FROM compliance_entry_names")) == 10
    assert len(store.current("EU").entries) == 10


def test_bad_list_name_is_refused(store):
    for name in ("", "a b", "x" * 65, "../etc"):
        with pytest.raises(ListFormatError, match="list name"):
            store.import_list(name, _json(1), "own-json")
    assert store.current_all() == []
