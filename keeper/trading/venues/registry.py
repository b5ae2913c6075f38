"""Which venues the desk trades on: id, URL, API key file, latency estimate, timeout.

Loaded from a small JSON file (the setting the lead is asked for: ``trading_venues_file``)::

    {"venues": [{"id": "deepbook", "url": "http://127.0.0.1:8111",
                 "api_key_file": "venue-deepbook.key", "latency_ms": 40, "timeout_s": 5}]}

``api_key_file`` is relative to ``secrets_dir`` (or absolute) and read with
:func:`~keeper.keys.secrets.read_private_file` (0600, own, no symlink); the key is never logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from keeper.keys.secrets import Secret, read_private_file
from keeper.trading.venues.client import HttpVenue

VENUE_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class VenueConfig:
    """One venue's entry."""

    id: str
    url: str
    api_key_file: Path
    latency_ms: float = 50.0
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if not VENUE_ID.fullmatch(self.id):
            raise ValueError(f"venue id {self.id!r} must match {VENUE_ID.pattern}")
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise ValueError(f"venue {self.id}: url must be http(s)://host[:port] without credentials")
        if not 0 < self.timeout_s <= 120 or not 0 <= self.latency_ms <= 60_000:
            raise ValueError(f"venue {self.id}: timeout_s within (0, 120], latency_ms within [0, 60000]")


def parse_registry(data: object, secrets_dir: Path) -> list[VenueConfig]:
    """The venues of a registry document (ids unique; unknown keys refused)."""
    if not isinstance(data, dict) or set(data) != {"venues"} or not isinstance(data["venues"], list):
        raise ValueError('a venue registry is {"venues": [...]}')
    out: list[VenueConfig] = []
    for entry in data["venues"]:
        if not isinstance(entry, dict) or not {"id", "url", "api_key_file"} <= set(entry) <= {
                "id", "url", "api_key_file", "latency_ms", "timeout_s"}:
            raise ValueError("a venue entry has id, url, api_key_file and optionally latency_ms, timeout_s")
        if not all(isinstance(entry[k], str) for k in ("id", "url", "api_key_file")) or not all(
                isinstance(entry.get(k, 1), (int, float)) and not isinstance(entry.get(k), bool)
                for k in ("latency_ms", "timeout_s")):
            raise ValueError("venue entry fields have the wrong types")
        key_file = secrets_dir / entry["api_key_file"]  # an absolute path stays absolute
        out.append(VenueConfig(entry["id"], entry["url"], key_file, float(entry.get("latency_ms", 50.0)),
                               float(entry.get("timeout_s", 5.0))))
    if len({c.id for c in out}) != len(out):
        raise ValueError("venue ids must be unique")
    return out


def load_registry(path: Path, secrets_dir: Path) -> list[VenueConfig]:
    """The venues listed in the JSON file at ``path``."""
    return parse_registry(json.loads(path.read_text()), secrets_dir)


def open_venues(configs: list[VenueConfig]) -> dict[str, HttpVenue]:
    """An :class:`HttpVenue` per entry (keys read now, from their 0600 files)."""
    return {c.id: HttpVenue(c.id, c.url, Secret(read_private_file(c.api_key_file)), timeout_s=c.timeout_s,
                            latency_ms=c.latency_ms) for c in configs}
