"""One entry point for every list format: parse a downloaded file completely, or refuse it."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

from keeper.compliance.screening.ofac_advanced import parse_advanced_xml
from keeper.compliance.screening.ofac_legacy import parse_sdn_csv, parse_sdn_xml
from keeper.compliance.screening.own_format import parse_own_csv, parse_own_json
from keeper.compliance.screening.records import KINDS, ListEntry, ListFormatError, ParsedList

MAX_LISTED_NAME = 512  # characters; longer is not a name, and would slow every screening
PARSERS: dict[str, Callable[[bytes], list[ListEntry]]] = {
    "ofac-advanced-xml": lambda data: parse_advanced_xml(io.BytesIO(data)),
    "ofac-sdn-xml": lambda data: parse_sdn_xml(io.BytesIO(data)),
    "ofac-sdn-csv": parse_sdn_csv,
    "own-csv": parse_own_csv,
    "own-json": parse_own_json,
}


def parse_list(source: bytes | Path, source_format: str) -> ParsedList:
    """Parse a whole list file of ``source_format`` (one of :data:`PARSERS`).

    Raises :class:`ListFormatError` for a malformed, truncated or empty file, or duplicate uids."""
    if source_format not in PARSERS:
        raise ListFormatError(f"unknown list format {source_format!r}; one of {sorted(PARSERS)}")
    data = source.read_bytes() if isinstance(source, Path) else source
    entries = PARSERS[source_format](data)
    if not entries:
        raise ListFormatError("the list has no entries")
    for e in entries:  # the columns' limits, whatever the format
        if len(e.uid) > 64 or e.kind not in KINDS or any(len(a.currency) > 32 for a in e.addresses):
            raise ListFormatError(f"entry {e.uid[:64]!r}: uid over 64 characters, bad kind or currency")
        if any(len(n) > MAX_LISTED_NAME for n in e.names):
            raise ListFormatError(f"entry {e.uid!r}: a name over {MAX_LISTED_NAME} characters")
    uids = [e.uid for e in entries]
    if len(set(uids)) != len(uids):
        raise ListFormatError("the list repeats an entry uid")
    return ParsedList(source_format, hashlib.sha256(data).hexdigest(), tuple(entries))
