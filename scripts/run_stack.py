"""`make run`: bring the local Strongroom stack up end to end and keep it up until Ctrl-C.

1. the upstream local mainnet (anvil, chain id 1, USDC/USDT/Safe at real addresses);
2. a fork of it (ape's foundry provider), on which the system contracts are deployed;
3. the keeper (chain follower mirroring vault events into the ledger);
4. the local core banking (ATLAS), stablecoin issuer, three trading venues and the custody
   partner, each its own process (the keeper routes over the venues through a registry file);
5. the API (uvicorn), which then shows a deposit, a buy, a sell, an on-us transfer, a deposit
   notice from core banking, a withdrawal request and a trading desk order routed over the
   venues end to end.

Everything runs on embedded defaults: SQLite and SoftHSM under ``.data/``, loopback only.
``--db postgres`` (``make run DB=postgres``) puts the keeper's database in a local PostgreSQL
cluster instead (``.data/pg/primary`` on loopback port 15432, created on first use, reused
afterwards; the run's database is new each run, like the SQLite one, since the fork is new).
``--check`` brings everything up, verifies it answers, prints the summary and stops (used by the
test suite to prove the main job works).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["PATH"] = os.pathsep.join(
    [str(ROOT / ".venv/bin"), str(ROOT / "node_modules/.bin"), os.environ.get("PATH", "")]
)

from scripts import localnet  # noqa: E402

FORK_NETWORK = "ethereum:mainnet-fork:foundry"


def start_api(port: int, settings: Any) -> tuple[Any, threading.Thread]:
    """Serve the API for the run's ``settings`` with uvicorn in a thread; return (server, thread)."""
    import uvicorn

    from api.main import create_app

    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("API did not start")
    return server, thread


def enter_fork(exits: contextlib.ExitStack, networks: Any, attempts: int = 3) -> Any:
    """Connect ape's foundry provider to a new fork of the upstream, retrying a slow start
    (ape waits 20 s for anvil to answer, which a loaded 2-core machine can exceed)."""
    from ape.exceptions import RPCTimeoutError

    for attempt in range(1, attempts + 1):
        try:
            return exits.enter_context(networks.parse_network_choice(FORK_NETWORK))
        except RPCTimeoutError:
            if attempt == attempts:
                raise
            print(f"run: the fork's anvil was slow to answer; retrying ({attempt}/{attempts})")
    raise AssertionError("unreachable")


def get_json(url: str) -> Any:
    """GET a URL on loopback and decode its JSON body."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read())


def serve_postgres(exits: contextlib.ExitStack, check: bool) -> str:
    """Serve the local PostgreSQL primary (started here unless it runs; stopped on exit only
    if started here), create a new run database in it (``strongroom_check`` in check mode,
    else ``strongroom_run``), point every process started from now on at it
    (``STRONGROOM_DB_URL``) and return its password-free URL (trust on loopback)."""
    from keeper.config import load_settings
    from scripts.dr.pgcluster import serve_local

    settings = load_settings()
    cluster, started = serve_local(settings.data_dir, settings.backup_dir)
    if started:
        exits.callback(cluster.stop)
    url = cluster.create_database("strongroom_check" if check else "strongroom_run", fresh=True)
    from keeper.config import environment

    os.environ.update(environment(database_url=url))  # the services this run starts inherit it
    print(f"  postgres          {url}  ({'started' if started else 'already running'}; "
          f"data {cluster.data}, WAL archived to {settings.backup_dir / 'wal'})", flush=True)
    return url


def main(argv: list[str] | None = None) -> int:
    """Bring the stack up; with --check verify and stop, else wait for Ctrl-C."""
    parser = argparse.ArgumentParser(description="Run the local Strongroom stack")
    parser.add_argument("--check", action="store_true", help="start, verify, stop")
    parser.add_argument("--api-port", type=int, default=localnet.SETTINGS.api_port,
                        help="loopback port of the API (default: Settings.api_port, STRONGROOM_API_PORT)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                        help="the keeper's database: SQLite in .data/run (default) or the local "
                             "PostgreSQL cluster in .data/pg/primary")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore", module="pydantic_settings")
    upstream_was_running = localnet.running_pid() is not None
    upstream = localnet.start()
    import ape
    from ape import accounts, networks
    from ape.logging import logger

    logger.set_level("WARNING")  # one summary, not a line per deployment transaction

    from scripts.demo_desk import demo_trading
    from scripts.services.venues.launch import VENUE_PORTS
    from scripts.stack import PARTNER_PORT, bring_up, demo_deposit, demo_flows, start_services

    with contextlib.ExitStack() as exits:
        db = {"database_url": serve_postgres(exits, args.check)} if args.db == "postgres" else {}
        provider = enter_fork(exits, networks)
        fork_url = str(provider.uri)
        summary = bring_up(ape, accounts.test_accounts[0], fork_url, **db)  # migrates every domain
        api_port = args.api_port if not args.check else localnet.free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        base = summary["settings"]
        ports = ((localnet.free_port(), localnet.free_port()) if args.check
                 else (base.atlas_port, base.issuer_port))
        exits.callback(lambda: summary.get("stop_services", lambda: None)())  # also on errors
        venue_ports = ({n: localnet.free_port() for n in VENUE_PORTS} if args.check else None)
        start_services(summary, api_url, atlas_port=ports[0], issuer_port=ports[1],
                       venue_ports=venue_ports,
                       partner_port=localnet.free_port() if args.check else PARTNER_PORT)
        server, thread = start_api(api_port, summary["settings"])
        health = get_json(f"{api_url}/health")
        print("Strongroom local stack is up")
        print(f"  upstream mainnet  {upstream}  (chain id 1; USDC, USDT, Safe 1.4.1 at real addresses)")
        print(f"  fork (contracts)  {fork_url}")
        for name, address in summary["contracts"].items():
            print(f"    {name:<22}{address}")
        print(f"  database          {summary['database_display']}")
        print(f"  keeper            {summary['keeper']}")
        print(f"  API               {api_url}  (docs {api_url}/docs)  health={health}")
        print(f"  core banking      {summary['services']['atlas']}  (local ATLAS, own process)")
        print(f"  issuer            {summary['services']['issuer']}  (local issuer, own process; "
              f"minter {summary['services']['minter']})")
        for name, url in summary["services"]["venues"].items():
            print(f"  venue {name:<11} {url}  (local exchange simulator, own process)")
        print(f"  custody partner   {summary['services']['partner']}  (local Warp Data, own "
              "process; pays withdrawals only to the vault)")
        if not health.get("ok"):
            print("run: error: API health check failed", file=sys.stderr)
            return 1
        print(f"  demo              {demo_deposit(ape, summary, api_url)}")
        for line in demo_flows(ape, summary, api_url):
            print(f"  flows             {line}")
        for line in demo_trading(summary, api_url):
            print(f"  trading desk      {line}")
        print_console_logins(summary, api_url)
        gc.freeze()  # long-lived start-up objects leave the GC's generations: no full-GC pauses
        if args.check:
            server.should_exit = True
            summary["stop"]()
            thread.join(timeout=10)
            if not upstream_was_running:
                localnet.stop()
            print("check: ok")
            return 0
        stop = threading.Event()
        # Our handlers replace ape's SIGINT handler, which would kill the fork's anvil before the
        # keeper and the API stop: we stop them first, then leave the provider context.
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping...", flush=True)
        server.should_exit = True
        summary["stop"]()
        thread.join(timeout=10)
    if not upstream_was_running:
        localnet.stop()
    return 0


def print_console_logins(summary: dict, api_url: str) -> None:
    """The web console's URL and one demo login per role. Passwords are random, kept in 0600
    files under the secrets folder and never printed (like the demo API key)."""
    from keeper.console.demo import seed as console_demo_logins
    from scripts.stack import key_address

    base = summary["settings"]
    folder = base.secrets_dir / "console"
    print(f"  console           {api_url}/console/  (web console; each demo login's password is "
          f"in {folder}/<login>.password)")
    logins = console_demo_logins(base, signer_address=key_address(summary["hsm"], "safe-signer"))
    for login, role, _password in logins:
        print(f"    {login:<20}{role}")


if __name__ == "__main__":
    sys.exit(main())
