"""``python -m scripts.services.venues --venue NAME --port P --db FILE --api-key-file F
--admin-key-file F --seed N [--profile FILE]``: run one simulated trading venue.

``--venue`` names one of the default profiles (deepbook, fastlane, thirdex) unless ``--profile``
gives a JSON profile. The database remembers the venue and seed it was created with and refuses
another. Key files are 0600 and their contents never printed.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
from pathlib import Path

import uvicorn

from keeper.config import LOOPBACK
from scripts.services.common.secrets import read_secret
from scripts.services.venues.app import PersistFailed, Service, create_app, now_ms
from scripts.services.venues.profile import DEFAULT_PROFILES, VenueProfile, load_profile
from scripts.services.venues.simulator import Simulator
from scripts.services.venues.store import Store

log = logging.getLogger("venue")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m scripts.services.venues", description=__doc__)
    p.add_argument("--venue", required=True, help="profile name (deepbook, fastlane, thirdex)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default=LOOPBACK)
    p.add_argument("--db", type=Path, required=True, help="the venue's SQLite file")
    p.add_argument("--api-key-file", type=Path, required=True, help="0600 file: the trading API key")
    p.add_argument("--admin-key-file", type=Path, required=True, help="0600 file: the admin key")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--profile", type=Path, help="JSON profile (default: the named default profile)")
    return p.parse_args(argv)


def profile_for(args: argparse.Namespace) -> VenueProfile:
    """The profile: ``--profile`` (its name must be ``--venue``) or the default of that name."""
    if args.profile is not None:
        profile = load_profile(args.profile)
        if profile.name != args.venue:
            raise SystemExit(f"profile {args.profile} is for venue {profile.name!r}, not {args.venue!r}")
        return profile
    if args.venue not in DEFAULT_PROFILES:
        raise SystemExit(f"no default profile {args.venue!r}; give --profile")
    return DEFAULT_PROFILES[args.venue]


def build(db: Path, profile: VenueProfile, seed: int, *, busy_timeout_s: float = 5.0) -> Service:
    """The venue's service over its file (created, or checked to be this venue's and seed's)."""
    store = Store(db, busy_timeout_s=busy_timeout_s)
    for key, value in (("venue", profile.name), ("seed", str(seed))):
        stored = store.meta(key)
        if stored is None:
            store.set_meta(key, value)
        elif stored != value:
            raise SystemExit(f"{db} belongs to {key} {stored!r}, not {value!r}")

    def persist(sim: Simulator) -> None:
        try:
            store.save(sim)
        except sqlite3.Error as exc:
            log.error("venue %s: cannot write its database (%s); reloading", profile.name, type(exc).__name__)
            raise PersistFailed from None

    def simulator() -> Simulator:
        sim = Simulator(profile, seed, on_change=persist)
        store.load(sim, now_ms())
        return sim

    return Service(simulator)


def main(argv: list[str] | None = None) -> None:
    """Start the venue (blocks until SIGINT/SIGTERM)."""
    args = parse(argv)
    api_key, admin_key = read_secret(args.api_key_file), read_secret(args.admin_key_file)
    if api_key == admin_key:
        raise SystemExit("the API key and the admin key must differ")
    profile = profile_for(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(build(args.db, profile, args.seed), api_key=api_key, admin_key=admin_key)
    log.info("venue %s on %s:%d (seed %d)", profile.name, args.host, args.port, args.seed)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
