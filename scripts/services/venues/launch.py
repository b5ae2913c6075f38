"""How to run the three local venues beside the keeper (``make run``, the test starters): one
home for their command line, their funding and the keeper's venue registry file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from scripts.services.venues.profile import DEFAULT_PROFILES

VENUE_PORTS = {"deepbook": 8111, "fastlane": 8112, "thirdex": 8113}
DEFAULT_FUNDS = {"USD": 1_000_000_000_00, "BTC": 100 * 10**8, "ETH": 1_000 * 10**18,
                 "USDC": 10**6 * 10**6, "USDT": 10**6 * 10**6}


def venue_argv(name: str, port: int, db: Path, api_key_file: Path, admin_key_file: Path, seed: int,
               profile: Path | None = None) -> list[str]:
    """The command line of one venue service."""
    argv = [sys.executable, "-m", "scripts.services.venues", "--venue", name, "--port", str(port),
            "--db", str(db), "--api-key-file", str(api_key_file), "--admin-key-file", str(admin_key_file),
            "--seed", str(seed)]
    return argv + (["--profile", str(profile)] if profile is not None else [])


def fund_venue(url: str, admin_key: str, funds: dict[str, int] | None = None) -> None:
    """Credit our account on the venue at ``url`` (admin API) with ``funds`` (default
    :data:`DEFAULT_FUNDS`)."""
    for currency, amount in (DEFAULT_FUNDS if funds is None else funds).items():
        reply = httpx.post(f"{url}/admin/fund", json={"currency": currency, "amount": str(amount)},
                           headers={"X-ADMIN-KEY": admin_key}, timeout=10)
        if reply.status_code != 200:
            raise RuntimeError(f"funding {url} failed: HTTP {reply.status_code}")


def write_registry(path: Path, urls: dict[str, str], api_key_files: dict[str, str]) -> Path:
    """The keeper's venue registry (``keeper.trading.venues.load_registry``): each venue's URL,
    key file (relative to the secrets folder) and its profile's latency as the first estimate."""
    venues = [{"id": name, "url": url, "api_key_file": api_key_files[name],
               "latency_ms": DEFAULT_PROFILES[name].latency_ms if name in DEFAULT_PROFILES else 50}
              for name, url in urls.items()]
    path.write_text(json.dumps({"venues": venues}, indent=2) + "\n")
    return path
