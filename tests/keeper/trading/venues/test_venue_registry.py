"""The venue registry: which venues exist, where, with which 0600 key file; malformed entries
and unsafe key files are refused before any venue is opened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keeper.keys.secrets import write_secret_file
from keeper.trading.venues import HttpVenue, load_registry, open_venues, parse_registry
from scripts.services.venues.launch import VENUE_PORTS, write_registry

ENTRY = {"id": "deepbook", "url": "http://127.0.0.1:8111", "api_key_file": "venue-deepbook.key",
         "latency_ms": 40, "timeout_s": 5}


def test_registry_loads_and_opens_venues_with_keys_from_private_files(tmp_path: Path) -> None:
    write_secret_file(tmp_path / "venue-deepbook.key", "k" * 32)
    registry = tmp_path / "venues.json"
    registry.write_text(json.dumps({"venues": [ENTRY, {**ENTRY, "id": "fastlane", "url": "http://127.0.0.1:8112"}]}))
    configs = load_registry(registry, tmp_path)
    assert [c.id for c in configs] == ["deepbook", "fastlane"]
    assert configs[0].api_key_file == tmp_path / "venue-deepbook.key" and configs[0].latency_ms == 40
    venues = open_venues(configs)
    try:
        assert all(isinstance(v, HttpVenue) for v in venues.values())
        assert venues["deepbook"].latency_estimate_ms() == 40
        assert "k" * 32 not in repr(venues["deepbook"])
    finally:
        for v in venues.values():
            v.close()


@pytest.mark.parametrize("bad", [
    [],
    {"venues": {}},
    {"venues": [ENTRY], "extra": 1},
    {"venues": [{**ENTRY, "id": "Deep Book"}]},
    {"venues": [{**ENTRY, "url": "ftp://127.0.0.1/"}]},
    {"venues": [{**ENTRY, "url": "http://user:pw@127.0.0.1/"}]},
    {"venues": [{**ENTRY, "timeout_s": 0}]},
    {"venues": [{**ENTRY, "latency_ms": True}]},
    {"venues": [{**ENTRY, "api_key_file": 7}]},
    {"venues": [{**ENTRY, "password": "x"}]},
    {"venues": [ENTRY, ENTRY]},
])
def test_malformed_registries_are_refused(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValueError):
        parse_registry(bad, tmp_path)


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "venue-deepbook.key"
    key.write_text("k" * 32)
    key.chmod(0o644)
    with pytest.raises(PermissionError):
        open_venues(parse_registry({"venues": [ENTRY]}, tmp_path))


def test_the_launchers_registry_is_what_the_keeper_loads(tmp_path: Path) -> None:
    urls = {name: f"http://127.0.0.1:{port}" for name, port in VENUE_PORTS.items()}
    path = write_registry(tmp_path / "venues.json", urls, {n: f"venue-{n}.key" for n in urls})
    configs = load_registry(path, tmp_path)
    assert [(c.id, c.url, c.api_key_file.name) for c in configs] == [
        ("deepbook", "http://127.0.0.1:8111", "venue-deepbook.key"),
        ("fastlane", "http://127.0.0.1:8112", "venue-fastlane.key"),
        ("thirdex", "http://127.0.0.1:8113", "venue-thirdex.key")]
    assert [c.latency_ms for c in configs] == [40, 5, 20]
