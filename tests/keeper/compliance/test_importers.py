"""Every list format parsed from small synthetic files written in the official formats; malformed,
truncated or hostile files refused with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keeper.compliance.screening.formats import parse_list
from keeper.compliance.screening.records import ListFormatError

FIXTURES = Path(__file__).with_name("fixtures")
FILES = {"ofac-advanced-xml": "sdn_advanced.xml", "ofac-sdn-xml": "sdn.xml",
         "ofac-sdn-csv": "SDN.CSV", "own-csv": "list.csv", "own-json": "list.json"}


def _data(fmt: str) -> bytes:
    return (FIXTURES / FILES[fmt]).read_bytes()


def _by_uid(fmt: str, data: bytes | None = None):
    parsed = parse_list(_data(fmt) if data is None else data, fmt)
    return {e.uid: e for e in parsed.entries}


def test_ofac_advanced_xml_names_addresses_and_data():
    entries = _by_uid("ofac-advanced-xml")
    person, org = entries["90001"], entries["90002"]
    assert person.kind == "person" and org.kind == "organization"
    assert person.names == ("VOLKOVSKY, Aleksandr Petrovich", "VOLKOVSKIY, Alexander")
    assert person.weak_names == ("SASHA VOLK",)  # LowQuality="true"
    assert {(a.currency, a.address) for a in person.addresses} == {
        ("ETH", "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c"),
        ("XBT", "bc1qpffx4y9g2ktdevmxnlvxjc6z9957mwlh0em2wl")}
    assert person.countries == ("Russia",)
    assert person.birth_dates == ("1971-03-14",)
    assert org.names == ("GOLDEN CRESCENT EXCHANGE LLC",)
    # base58 addresses keep their case; the website feature is not an address
    assert {a.address for a in org.addresses} == {"TSyntheticTronAddr111111111111111xY",
                                                  "19uMPEqUGkxwf92ixFPkybcfHLdNorNWka"}


def test_ofac_advanced_feature_types_resolved_by_text_not_id():
    data = _data("ofac-advanced-xml").replace(b'"91017"', b'"5"').replace(b'"91018"', b'"6"')
    entries = _by_uid("ofac-advanced-xml", data)
    assert {a.currency for a in entries["90001"].addresses} == {"ETH", "XBT"}
    # an address feature whose type text says something else is not an address
    renamed = _data("ofac-advanced-xml").replace(b"Digital Currency Address - ETH", b"Email Address")
    assert {a.currency for a in _by_uid("ofac-advanced-xml", renamed)["90001"].addresses} == {"XBT"}


def test_ofac_advanced_unknown_feature_type_is_refused():
    data = _data("ofac-advanced-xml").replace(b'FeatureTypeID="91019"', b'FeatureTypeID="777"')
    with pytest.raises(ListFormatError, match="FeatureTypeValues has no ID '777'"):
        parse_list(data, "ofac-advanced-xml")


def test_legacy_sdn_xml():
    entries = _by_uid("ofac-sdn-xml")
    person = entries["80001"]
    assert person.names == ("HADDADI, Yusuf Ahmad", "HADDADI, Yousef")
    assert person.weak_names == ("ABU YUSUF",)  # category "weak"
    assert {(a.currency, a.address) for a in person.addresses} == {
        ("XBT", "bc1qhtfr68l7hq88lmnqqhytm0nndjrpdr76266gkz"),
        ("ETH", "0x980816f36b77e58d342de41f85854376d10cf9bf")}
    assert person.birth_dates == ("1969-02-02", "1970")
    assert person.countries == ("Iran",)
    assert entries["80002"].kind == "organization"


def test_legacy_sdn_xml_record_count_must_match():
    data = _data("ofac-sdn-xml").replace(b"<Record_Count>2<", b"<Record_Count>3<")
    with pytest.raises(ListFormatError, match="Record_Count says 3"):
        parse_list(data, "ofac-sdn-xml")


def test_sdn_csv_remarks_addresses_and_nulls():
    entries = _by_uid("ofac-sdn-csv")
    person = entries["70001"]
    assert person.kind == "person" and person.names == ("KESTREL, Mirza Anwar",)
    assert [a.address for a in person.addresses] == [
        "bc1q429a8dydhstfz2mdme8vxwn2l2qssugyezxclz",
        "bc1qrqqy063acq6ne9vv2hf5xx849tykpgxynqqf6t",  # upper-case bech32 folded
        "0x2222222222222222222222222222222222222222"]
    assert person.birth_dates == ("1975-05-05",) and person.countries == ("Russia",)
    assert entries["70002"].kind == "organization"  # SDN_Type -0-: an entity
    assert entries["70003"].kind == "vessel" and entries["70003"].addresses == ()


def test_own_formats():
    csv_entries = _by_uid("own-csv")
    assert csv_entries["EU-1"].names == ("DUBOIS, Renée", "Renee Dubois", "R. Dubois")
    assert {a.currency for a in csv_entries["EU-2"].addresses} == {"XBT", "TRX"}
    json_entries = _by_uid("own-json")
    assert json_entries["INT-2"].weak_names == ("GPM",)
    assert json_entries["INT-1"].addresses[0].address == "0x5555555555555555555555555555555555555555"
    assert json_entries["INT-1"].birth_dates == ("1985",)


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_truncated_file_is_refused(fmt):
    data = _data(fmt)
    for cut in (len(data) // 3, len(data) // 2, len(data) - 40):
        with pytest.raises(ListFormatError):
            parse_list(data[:cut], fmt)


def test_csv_truncated_at_a_line_boundary_is_refused():
    lines = _data("own-csv").splitlines(keepends=True)
    with pytest.raises(ListFormatError, match="__end__"):
        parse_list(b"".join(lines[:-1]), "own-csv")
    sdn = _data("ofac-sdn-csv")
    with pytest.raises(ListFormatError, match="columns"):
        parse_list(sdn[:sdn.index(b'"-0- ","IRAN"')], "ofac-sdn-csv")


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_garbage_and_empty_are_refused(fmt):
    for junk in (b"", b"\x00\xff\xfe garbage", b"<html><body>503 Service Unavailable</body></html>"):
        with pytest.raises(ListFormatError):
            parse_list(junk, fmt)


@pytest.mark.parametrize("fmt", ["ofac-advanced-xml", "ofac-sdn-xml"])
def test_dtd_and_entities_are_refused(fmt):
    root = b"Sanctions" if fmt == "ofac-advanced-xml" else b"sdnList"
    bomb = (b'<?xml version="1.0"?><!DOCTYPE ' + root + b' [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><' + root + b">&b;</" + root + b">")
    with pytest.raises(ListFormatError, match="refused XML construct"):
        parse_list(bomb, fmt)
    external = (b'<?xml version="1.0"?><!DOCTYPE ' + root + b' [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b"<" + root + b">&x;</" + root + b">")
    with pytest.raises(ListFormatError, match="refused XML construct"):
        parse_list(external, fmt)


def test_bad_address_names_the_entry():
    doc = json.loads(_data("own-json"))
    doc["entries"][0]["addresses"][0]["address"] = "0x55 55"
    with pytest.raises(ListFormatError, match="INT-1"):
        parse_list(json.dumps(doc).encode(), "own-json")


def test_duplicate_uids_and_unknown_format_are_refused():
    doc = json.loads(_data("own-json"))
    doc["entries"][1]["uid"] = "INT-1"
    with pytest.raises(ListFormatError, match="repeats"):
        parse_list(json.dumps(doc).encode(), "own-json")
    with pytest.raises(ListFormatError, match="unknown list format"):
        parse_list(b"{}", "ofac-sdn-pdf")


def test_absurd_listed_name_is_refused():
    doc = json.loads(_data("own-json"))
    doc["entries"][1]["names"].append("X " * 400)
    with pytest.raises(ListFormatError, match="INT-2.*over 512"):
        parse_list(json.dumps(doc).encode(), "own-json")


@pytest.mark.parametrize(("fmt", "junk"), [
    ("ofac-sdn-csv", b'1,"\x81\x8d\x8f",x'),  # bytes neither UTF-8 nor cp1252
    ("own-json", b"[" * 100_000),  # nesting deeper than the parser's recursion limit
    ("own-json", b'{"format": "strongroom-list/1", "entries": ' + b"[" * 100_000),
    ("own-csv", b"\xff\xfe\x00garbage"),
], ids=["csv-undecodable", "json-deep", "json-deep-entries", "own-csv-binary"])
def test_hostile_bytes_are_a_format_error(fmt, junk):
    with pytest.raises(ListFormatError):
        parse_list(junk, fmt)
