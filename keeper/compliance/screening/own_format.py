"""Strongroom's own list format for EU, UN and internal lists, as CSV or JSON.

CSV: UTF-8, header ``uid,kind,name,aliases,countries,birth_dates,addresses``; multi-valued
fields are separated by ``|``; an address is ``CURRENCY:address``; the last row is
``__end__,<number of entries>`` so a download cut at a line boundary is still detected.

JSON: ``{"format": "strongroom-list/1", "entries": [{"uid", "kind", "names": [...],
"addresses": [{"currency", "address"}], "countries": [...], "birth_dates": [...],
"weak_names": [...]}]}`` (``weak_names`` optional: aliases matched exactly, for review only).

``kind`` is one of person, organization, vessel, aircraft, unknown; dates ``YYYY`` or ``YYYY-MM-DD``.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from keeper import jsonsafe
from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.records import KINDS, ListedAddress, ListEntry, ListFormatError

CSV_HEADER = ("uid", "kind", "name", "aliases", "countries", "birth_dates", "addresses")
END_MARKER = "__end__"
JSON_FORMAT = "strongroom-list/1"
_DATE = re.compile(r"\d{4}(-\d{2}-\d{2})?")


def _entry(uid: Any, kind: Any, names: Any, addresses: Any, countries: Any, dates: Any,
           weak: Any = ()) -> ListEntry:
    if not isinstance(uid, str) or not uid.strip():
        raise ListFormatError(f"entry without uid: {uid!r}")
    where = f"entry {uid!r}"
    if kind not in KINDS:
        raise ListFormatError(f"{where}: kind {kind!r} not one of {sorted(KINDS)}")
    weak = list(weak)
    for label, values in (("names", names), ("countries", countries), ("birth_dates", dates),
                          ("weak_names", weak)):
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ListFormatError(f"{where}: {label} must be a list of strings")
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise ListFormatError(f"{where}: no name")
    if not all(_DATE.fullmatch(d.strip()) for d in dates):
        raise ListFormatError(f"{where}: birth dates must be YYYY or YYYY-MM-DD")
    listed = []
    for item in addresses:
        if not (isinstance(item, dict) and isinstance(item.get("currency"), str)
                and isinstance(item.get("address"), str)):
            raise ListFormatError(f"{where}: an address needs a currency and an address")
        try:
            listed.append(ListedAddress(item["currency"].strip(), normalise_address(item["address"])))
        except ValueError as exc:
            raise ListFormatError(f"{where}: {exc}") from None
    return ListEntry(uid.strip(), kind, tuple(dict.fromkeys(names)), tuple(listed),
                     tuple(c.strip() for c in countries if c.strip()),
                     tuple(d.strip() for d in dates if d.strip()),
                     tuple(dict.fromkeys(w.strip() for w in weak if w.strip())))


# A list document nests a few levels (document -> entries -> entry -> addresses -> address).
def parse_own_json(data: bytes) -> list[ListEntry]:
    """Parse the JSON variant (nesting deeper than :data:`keeper.jsonsafe.MAX_JSON_DEPTH` is
    refused unparsed)."""
    try:
        text = data.decode("utf-8")
        doc = jsonsafe.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ListFormatError(f"malformed, truncated or too deeply nested JSON: {exc!r:.200}") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT or not isinstance(
            doc.get("entries"), list):
        raise ListFormatError(f"not a {JSON_FORMAT} document")
    out = []
    for e in doc["entries"]:
        if not isinstance(e, dict):
            raise ListFormatError("an entry must be an object")
        addresses = e.get("addresses", [])
        if not isinstance(addresses, list):
            raise ListFormatError(f"entry {e.get('uid')!r}: addresses must be a list")
        weak = e.get("weak_names", [])
        if not isinstance(weak, list):
            raise ListFormatError(f"entry {e.get('uid')!r}: weak_names must be a list")
        out.append(_entry(e.get("uid"), e.get("kind"), e.get("names"), addresses,
                          e.get("countries", []), e.get("birth_dates", []), weak))
    return out


def _split(value: str) -> list[str]:
    return [v for v in (p.strip() for p in value.split("|")) if v]


def parse_own_csv(data: bytes) -> list[ListEntry]:
    """Parse the CSV variant (header and ``__end__`` trailer required)."""
    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), strict=True)
        rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ListFormatError(f"malformed CSV: {exc}") from None
    if not rows or tuple(rows[0]) != CSV_HEADER:
        raise ListFormatError(f"header must be {','.join(CSV_HEADER)}")
    body = [r for r in rows[1:] if r]
    if not body or body[-1][:1] != [END_MARKER]:
        raise ListFormatError(f"truncated: no {END_MARKER} trailer row")
    trailer, body = body[-1], body[:-1]
    if len(trailer) < 2 or trailer[1] != str(len(body)):
        raise ListFormatError(f"trailer announces {trailer[1:2]} entries, the file has {len(body)}")
    out = []
    for n, row in enumerate(body, start=2):
        if len(row) != len(CSV_HEADER):
            raise ListFormatError(f"row {n}: {len(row)} columns, expected {len(CSV_HEADER)}")
        rec = dict(zip(CSV_HEADER, row, strict=True))
        addresses = []
        for item in _split(rec["addresses"]):
            currency, sep, address = item.partition(":")
            if not sep:
                raise ListFormatError(f"row {n}: address {item!r} is not CURRENCY:address")
            addresses.append({"currency": currency, "address": address})
        out.append(_entry(rec["uid"], rec["kind"].strip(), [rec["name"], *_split(rec["aliases"])],
                          addresses, _split(rec["countries"]), _split(rec["birth_dates"])))
    return out
