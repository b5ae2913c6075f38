"""Labelled address lists (mixer, darknet, sanctioned, exchange) for :class:`LabelledAddressRisk`.

Formats (UTF-8):

* CSV: header ``address,chain,label,source``, one address a row, and a last row
  ``__end__,<number of rows>`` so a download cut at a line boundary is still refused;
* JSON: ``{"format": "strongroom-labels/1", "addresses": [{"address", "chain", "label",
  "source"}]}``.

``chain`` is ``ETH`` (``0x`` + 40 hex, any case) or ``BTC`` (bech32 or base58); ``label`` one of
:data:`~keeper.compliance.risk.LABEL_SCORES`; ``source`` who labelled it (1-200 characters).
Addresses are stored normalised, as screening looks them up. The whole file is parsed first: a
single bad row refuses it. Imports are versioned and atomic like the sanctions lists: one
transaction writes the version and makes it current; an identical file adds no version; a version
with less than half the rows of the current one is refused unless ``allow_shrink``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select

from keeper import jsonsafe
from keeper.compliance.models import LabelledAddressRow, LabelVersionRow
from keeper.compliance.risk import LABEL_SCORES
from keeper.compliance.screening.addresses import normalise_address
from keeper.compliance.screening.records import ListFormatError
from keeper.compliance.screening.store import (
    DEFAULT_MAX_SHRINK,
    LIST_NAME,
    make_current,
    open_version,
)
from keeper.ledger.db import WRITE

CSV_HEADER = ("address", "chain", "label", "source")
JSON_FORMAT = "strongroom-labels/1"
END_MARKER = "__end__"
MAX_BYTES = 64 * 1024 * 1024
_ETH = re.compile(r"0[xX][0-9a-fA-F]{40}")
_BECH32 = re.compile(r"(bc1|tb1|bcrt1)[02-9ac-hj-np-z]{6,87}", re.IGNORECASE)
_BASE58 = re.compile(r"[123mn][1-9A-HJ-NP-Za-km-z]{25,34}")
_CHAINS = {"ETH": (_ETH,), "BTC": (_BECH32, _BASE58)}


@dataclass(frozen=True, slots=True)
class LabelledAddress:
    """One labelled address (normalised)."""

    address: str
    chain: str
    label: str
    source: str


@dataclass(frozen=True, slots=True)
class LabelVersion:
    """A stored version of a labelled list."""

    list_name: str
    version: int
    sha256: str
    imported_at: datetime
    addresses: tuple[LabelledAddress, ...]


def _row(where: str, address: Any, chain: Any, label: Any, source: Any) -> LabelledAddress:
    if not all(isinstance(v, str) for v in (address, chain, label, source)):
        raise ListFormatError(f"{where}: address, chain, label and source must be strings")
    chain = chain.strip().upper()
    if chain not in _CHAINS:
        raise ListFormatError(f"{where}: chain must be one of {sorted(_CHAINS)}")
    if label.strip() not in LABEL_SCORES:
        raise ListFormatError(f"{where}: label must be one of {sorted(LABEL_SCORES)}")
    source = source.strip()
    if not source or len(source) > 200 or not source.isprintable():
        raise ListFormatError(f"{where}: source must be 1 to 200 printable characters")
    if not any(form.fullmatch(address.strip()) for form in _CHAINS[chain]):
        raise ListFormatError(f"{where}: not a {chain} address")
    try:
        key = normalise_address(address)
    except ValueError as exc:
        raise ListFormatError(f"{where}: {exc}") from exc
    return LabelledAddress(key, chain, label.strip(), source)


def parse_labels(data: bytes, source_format: str) -> tuple[LabelledAddress, ...]:
    """Parse a whole labelled list (``csv`` or ``json``); :class:`ListFormatError` if anything
    in it is malformed, truncated or too big."""
    if len(data) > MAX_BYTES:
        raise ListFormatError(f"labelled list larger than {MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListFormatError(f"not UTF-8: {exc}") from exc
    if source_format == "json":
        try:
            doc = jsonsafe.loads(text)  # depth first: the C decoder can overflow the stack
        except (ValueError, RecursionError) as exc:
            raise ListFormatError(f"malformed JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT or not isinstance(
                doc.get("addresses"), list):
            raise ListFormatError(f'expected {{"format": "{JSON_FORMAT}", "addresses": [...]}}')
        out = []
        for i, item in enumerate(doc["addresses"]):
            if not isinstance(item, dict):
                raise ListFormatError(f"address {i}: not an object")
            out.append(_row(f"address {i}", *(item.get(k) for k in CSV_HEADER)))
        return tuple(out)
    if source_format != "csv":
        raise ListFormatError(f"unknown labelled list format {source_format!r} (csv or json)")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ListFormatError(f"malformed CSV: {exc}") from exc
    if not rows or tuple(c.strip() for c in rows[0]) != CSV_HEADER:
        raise ListFormatError(f"CSV header must be {','.join(CSV_HEADER)}")
    body, last = rows[1:-1], rows[-1] if len(rows) > 1 else []
    if len(last) != 2 or last[0] != END_MARKER or last[1] != str(len(body)):
        raise ListFormatError(f"CSV must end with {END_MARKER},<rows> (truncated download?)")
    out = []
    for n, r in enumerate(body, start=2):
        if len(r) != len(CSV_HEADER):
            raise ListFormatError(f"line {n}: {len(r)} fields, expected {len(CSV_HEADER)}")
        out.append(_row(f"line {n}", *r))
    return tuple(out)


class LabelStore:
    """Labelled address lists in ``compliance_label_versions`` / ``compliance_labelled_addresses``."""

    def __init__(self, engine: Engine, max_shrink: float = DEFAULT_MAX_SHRINK) -> None:
        """``max_shrink``: the largest fraction of rows a new version may drop."""
        self._engine = engine
        self._max_shrink = max_shrink

    def import_list(self, list_name: str, source: bytes | Path, source_format: str, *,
                    allow_shrink: bool = False) -> LabelVersion:
        """Parse ``source`` whole, then store it as the current version of ``list_name``."""
        if not isinstance(list_name, str) or not LIST_NAME.fullmatch(list_name):
            raise ListFormatError(f"bad list name {list_name!r}")
        data = source.read_bytes() if isinstance(source, Path) else source
        rows = parse_labels(data, source_format)
        sha = hashlib.sha256(data).hexdigest()
        now = datetime.now(UTC)
        t = LabelVersionRow.__table__
        with self._engine.execution_options(**WRITE).begin() as conn:
            current, version, vid = open_version(
                conn, t, list_name, sha, len(rows), now=now, max_shrink=self._max_shrink,
                allow_shrink=allow_shrink, unit="rows")
            if current is not None:
                return LabelVersion(list_name, version, sha, current.imported_at, rows)
            if rows:
                conn.execute(insert(LabelledAddressRow), [
                    {"version_id": vid, "position": i, "address": r.address, "chain": r.chain,
                     "label": r.label, "source": r.source} for i, r in enumerate(rows)])
            make_current(conn, t, list_name, vid)
        return LabelVersion(list_name, version, sha, now, rows)

    def versions(self, list_name: str) -> list[tuple[int, bool, int, str]]:
        """(version, is current, row count, sha256) of every stored version, oldest first."""
        t = LabelVersionRow.__table__
        with self._engine.connect() as conn:
            rows = conn.execute(select(t.c.version, t.c.is_current, t.c.entry_count, t.c.sha256)
                                .where(t.c.list_name == list_name).order_by(t.c.version)).all()
        return [(r.version, bool(r.is_current), r.entry_count, r.sha256) for r in rows]

    def current_labels(self) -> Mapping[str, set[str]]:
        """label -> addresses, over the current version of every labelled list (what
        :class:`~keeper.compliance.LabelledAddressRisk` takes)."""
        t, a = LabelVersionRow.__table__, LabelledAddressRow.__table__
        out: dict[str, set[str]] = {}
        with self._engine.connect() as conn:
            for label, address in conn.execute(
                    select(a.c.label, a.c.address).join(t, t.c.id == a.c.version_id)
                    .where(t.c.is_current)):
                out.setdefault(label, set()).add(address)
        return out
