"""OFAC legacy formats: ``sdn.xml`` (``sdnList/sdnEntry``) and ``SDN.CSV`` (12 columns, ``-0-``)."""

from __future__ import annotations

import csv
import io
from typing import BinaryIO
from xml.etree.ElementTree import Element

from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.records import (
    ListedAddress,
    ListEntry,
    ListFormatError,
    parse_list_date,
)
from keeper.compliance.screening.xmlsafe import child, local, path, stream, text

CRYPTO_PREFIX = "Digital Currency Address - "
_KIND = {"individual": "person", "entity": "organization", "vessel": "vessel", "aircraft": "aircraft"}
SDN_CSV_COLUMNS = ("ent_num", "SDN_Name", "SDN_Type", "Program", "Title", "Call_Sign", "Vess_type",
                   "Tonnage", "GRT", "Vess_flag", "Vess_owner", "Remarks")
NULL = "-0-"


def _address(uid: str, currency: str, raw: str) -> ListedAddress:
    try:
        return ListedAddress(currency.strip(), normalise_address(raw))
    except ValueError as exc:
        raise ListFormatError(f"entry {uid}: {exc}") from None


def _person_name(last: str, first: str, kind: str) -> str:
    if kind == "person" and last and first:
        return f"{last}, {first}"
    return " ".join(p for p in (first, last) if p)


def parse_sdn_xml(source: BinaryIO) -> list[ListEntry]:
    """Parse legacy ``sdn.xml``; its ``Record_Count`` must equal the entries found."""
    entries: list[ListEntry] = []
    expected: int | None = None
    for elem in stream(source, "sdnList", frozenset({"publshInformation", "sdnEntry"})):
        tag = local(elem.tag)
        if tag == "publshInformation":
            count = text(child(elem, "Record_Count"))
            expected = int(count) if count.isdigit() else None
        elif tag == "sdnEntry":
            entries.append(_sdn_entry(elem))
            elem.clear()
    if expected is not None and expected != len(entries):
        raise ListFormatError(f"Record_Count says {expected} entries, the file has {len(entries)}")
    return entries


def _sdn_entry(elem: Element) -> ListEntry:
    uid = text(child(elem, "uid"))
    kind = _KIND.get(text(child(elem, "sdnType")).lower(), "unknown")
    primary = _person_name(text(child(elem, "lastName")), text(child(elem, "firstName")), kind)
    if not uid or not primary:
        raise ListFormatError(f"sdnEntry {uid!r} without uid or name")
    akas = [(text(child(a, "category")).lower() == "weak",
             _person_name(text(child(a, "lastName")), text(child(a, "firstName")), kind))
            for a in path(elem, "akaList", "aka")]
    names = [primary] + [name for weak, name in akas if not weak]
    weak_names = [name for weak, name in akas if weak and name and name not in names]
    addresses = [_address(uid, text(child(i, "idType"))[len(CRYPTO_PREFIX):], text(child(i, "idNumber")))
                 for i in path(elem, "idList", "id") if text(child(i, "idType")).startswith(CRYPTO_PREFIX)]
    countries = [text(child(c, "country")) for c in
                 path(elem, "nationalityList", "nationality") + path(elem, "citizenshipList", "citizenship")]
    dates = [d for item in path(elem, "dateOfBirthList", "dateOfBirthItem")
             for d in parse_list_date(text(child(item, "dateOfBirth")))]
    return ListEntry(uid, kind, tuple(dict.fromkeys(n for n in names if n)), tuple(addresses),
                     tuple(dict.fromkeys(c for c in countries if c)), tuple(dict.fromkeys(dates)),
                     tuple(dict.fromkeys(weak_names)))


def parse_sdn_csv(data: bytes) -> list[ListEntry]:
    """Parse ``SDN.CSV`` (no header; a last line holding only ``\\x1a`` is allowed). A row of any
    other width (a truncated download) or an unterminated quote is refused."""
    try:
        body = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            body = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ListFormatError(f"SDN.CSV is neither UTF-8 nor cp1252: {exc}") from None
    reader = csv.reader(io.StringIO(body, newline=""), strict=True)
    entries: list[ListEntry] = []
    try:
        for row in reader:
            if row in ([], ["\x1a"]):
                continue
            if len(row) != len(SDN_CSV_COLUMNS):
                raise ListFormatError(f"line {reader.line_num}: {len(row)} columns, expected 12")
            entries.append(_csv_entry(dict(zip(SDN_CSV_COLUMNS, row, strict=True))))
    except csv.Error as exc:
        raise ListFormatError(f"line {reader.line_num}: {exc}") from None
    return entries


def _csv_entry(row: dict[str, str]) -> ListEntry:
    value = {k: ("" if v.strip() == NULL else v.strip()) for k, v in row.items()}
    uid, name = value["ent_num"], value["SDN_Name"]
    if not uid.isdigit() or not name:
        raise ListFormatError(f"SDN.CSV row {uid!r}: ent_num must be a number and SDN_Name present")
    kind = _KIND.get(value["SDN_Type"].lower(), "organization" if not value["SDN_Type"] else "unknown")
    addresses, countries, dates = [], [], []
    for remark in value["Remarks"].rstrip(".").split(";"):
        remark = remark.strip().removeprefix("alt. ").strip()
        if remark.startswith(CRYPTO_PREFIX):
            currency, _, address = remark[len(CRYPTO_PREFIX):].partition(" ")
            addresses.append(_address(uid, currency, address))
        elif remark.startswith("DOB "):
            dates.extend(parse_list_date(remark[4:]))
        elif remark.startswith(("nationality ", "citizen ")):
            countries.append(remark.partition(" ")[2].strip())
    return ListEntry(uid, kind, (name,), tuple(addresses), tuple(dict.fromkeys(countries)),
                     tuple(dict.fromkeys(dates)))
