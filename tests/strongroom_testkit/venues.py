"""The local trading venues for tests and the bench: real processes or in process.

* :func:`start_venues` starts the three default venues (``python -m scripts.services.venues``),
  each on a free port with its own SQLite file and 0600 key files, seeded and funded, in parallel;
  :func:`stop_venues` stops them. :class:`VenueProcess` restarts, kills (SIGKILL), calls the
  admin API (fund, faults, fills) and opens an :class:`~keeper.trading.venues.HttpVenue`.
* :func:`venue_services`: a session-scoped pytest fixture with the three started, calm venues (import it
  into a test module or conftest: ``from strongroom_testkit.venues import venue_services``).
  Tests that change faults should put them back (``set_faults(clear=True)``).
* :class:`LocalVenue` / :func:`local_venues`: the same simulator behind the ``Venue`` interface
  without HTTP (fast pure tests, the routing bench), with an injectable clock.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from keeper.config import ROOT
from keeper.keys.secrets import Secret, write_secret_file
from keeper.trading.venues import HttpVenue
from scripts.services.venues.inprocess import LocalVenue, local_venues
from scripts.services.venues.launch import DEFAULT_FUNDS, fund_venue, venue_argv
from scripts.services.venues.profile import DEFAULT_PROFILES
from strongroom_testkit import free_port
from strongroom_testkit.processes import kill, terminate, wait_healthy

DEFAULT_SEED = 1515

__all__ = ["DEFAULT_FUNDS", "DEFAULT_SEED", "LocalVenue", "VenueProcess", "local_venues", "make_venue",
           "start_venues", "stop_venues", "venue_services"]


@dataclass
class VenueProcess:
    """A venue service process (not necessarily running) and how to reach it."""

    name: str
    url: str
    db: Path
    api_key: str
    admin_key: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    clients: list[HttpVenue] = field(default_factory=list)

    def launch(self) -> None:
        """Start the process (do not wait)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 60) -> None:
        """Wait until ``/health`` answers."""
        assert self.proc is not None
        wait_healthy(self.proc, f"{self.url}/health", self.log, what=f"venue {self.name}",
                     timeout_s=timeout_s, interval_s=0.05)

    def start(self) -> None:
        """Start (or restart) on the same port and database, and wait until it answers."""
        self.launch()
        self.wait_ready()

    def kill(self) -> None:
        """SIGKILL: a crash, no clean shutdown."""
        assert self.proc is not None
        kill(self.proc, timeout=10)

    def stop(self) -> None:
        """Terminate and reap; close the clients opened by :meth:`client`."""
        for client in self.clients:
            client.close()
        self.clients.clear()
        terminate(self.proc, timeout=10)

    def client(self, **kwargs: Any) -> HttpVenue:
        """An :class:`HttpVenue` on this venue (closed by :meth:`stop`)."""
        venue = HttpVenue(self.name, self.url, Secret(self.api_key), **kwargs)
        self.clients.append(venue)
        return venue

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        """Call the admin API; returns the JSON answer (asserts 200)."""
        reply = httpx.request(method, self.url + path, json=json, timeout=10,
                              headers={"X-ADMIN-KEY": self.admin_key})
        assert reply.status_code == 200, reply.text
        return reply.json()

    def fund(self, currency: str, amount: int) -> Any:
        """Credit our account."""
        return self.admin("POST", "/admin/fund", {"currency": currency, "amount": str(amount)})

    def set_faults(self, **patch: Any) -> dict[str, Any]:
        """``PATCH /admin/faults`` (e.g. ``down_for_ms=2000``, ``stale_for_ms``, ``wrong_for_ms``
        with ``wrong_ppm``, ``latency_ms``, ``die_after_fills``, ``clear=True``)."""
        return dict(self.admin("PATCH", "/admin/faults", patch))

    def fills(self) -> list[dict[str, Any]]:
        """Every fill of ours on this venue."""
        return list(self.admin("GET", "/admin/fills"))


def make_venue(d: Path, name: str, *, seed: int = DEFAULT_SEED, port: int | None = None,
               profile: Path | None = None) -> VenueProcess:
    """A venue (not started) with its database and key files under ``d / name``."""
    own = d / name
    own.mkdir(parents=True, exist_ok=True)
    api_key, admin_key = secrets.token_hex(16), secrets.token_hex(16)
    write_secret_file(own / "api.key", api_key)
    write_secret_file(own / "admin.key", admin_key)
    port = port or free_port()
    argv = venue_argv(name, port, own / "venue.db", own / "api.key", own / "admin.key", seed, profile)
    return VenueProcess(name, f"http://127.0.0.1:{port}", own / "venue.db", api_key, admin_key, argv,
                        own / "venue.log")


def start_venues(d: Path, *, seed: int = DEFAULT_SEED, names: tuple[str, ...] = tuple(DEFAULT_PROFILES),
                 funds: dict[str, int] | None = None, profiles: dict[str, Path] | None = None,
                 calm: bool = False) -> dict[str, VenueProcess]:
    """Start the venues ``names`` in parallel, each funded with ``funds`` (default
    :data:`DEFAULT_FUNDS`); stops those started when one fails. ``calm``: the default profiles
    without random faults (:meth:`VenueProfile.calm`), so only forced faults happen."""
    profiles = dict(profiles or {})
    if calm:
        for name in names:
            if name not in profiles:
                profiles[name] = d / f"{name}-calm.json"
                profiles[name].write_text(DEFAULT_PROFILES[name].calm().to_json())
    venues = {n: make_venue(d, n, seed=seed, profile=profiles.get(n)) for n in names}
    try:
        for venue in venues.values():
            venue.launch()
        for venue in venues.values():
            venue.wait_ready()
            fund_venue(venue.url, venue.admin_key, funds)
    except BaseException:
        stop_venues(venues)
        raise
    return venues


def stop_venues(venues: dict[str, VenueProcess]) -> None:
    """Stop every venue."""
    for venue in venues.values():
        venue.stop()


@pytest.fixture(scope="session")
def venue_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, VenueProcess]]:
    """The three default venues made calm (no random faults), started once per session, seeded
    and funded."""
    venues = start_venues(tmp_path_factory.mktemp("venues"), calm=True)
    try:
        yield venues
    finally:
        stop_venues(venues)
