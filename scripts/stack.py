"""Bring the keeper side of the local stack up on a connected ape network.

Used by ``scripts/run_stack.py`` (``make run``). The local fork is ephemeral (a new chain each
run), so the run's database and deployments live in ``.data/run/`` and start empty each time; the
HSM token under ``.data/hsm`` persists.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keeper.config import Settings, load_settings
from keeper.deployments import Deployment, deployment_path, load_deployment
from keeper.flows.wiring import HOT_KEY, ISSUANCE_KEY
from keeper.keys.hsm import HsmConfig
from keeper.staking import STAKING_KEY
from scripts.bootstrap import prepare
from scripts.deployments import SystemConfig, deploy_system, derived_signer, local_config


def run_dir(settings: Settings) -> Path:
    """The per-run folder (wiped at each start)."""
    return settings.data_dir / "run"


def bring_up(ape: Any, deployer: Any, fork_url: str,
             database_url: str | None = None) -> dict[str, Any]:
    """Deploy the system contracts on the fork, prepare database and HSM, start the keeper.

    ``database_url``: the run's database (``make run DB=postgres`` passes a fresh database in the
    local cluster); default a fresh SQLite file in the run folder.

    Returns what the caller prints and serves: the run's ``settings`` (for the API), contract
    addresses, database, keeper description, and a ``stop`` callable that stops the keeper.
    """
    base = load_settings()
    folder = run_dir(base)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    settings = Settings(data_dir=base.data_dir,
                        database_url=database_url or f"sqlite:///{folder / 'strongroom.db'}",
                        rpc_url=fork_url, deployments_dir=folder / "deployments",
                        chain_id=ape.chain.chain_id)
    hsm = prepare(settings)
    hot, issuance = hot_address(hsm), key_address(hsm, ISSUANCE_KEY)
    for label in GAS_KEYS:
        ape.chain.provider.set_balance(key_address(hsm, label), 10**20)
    path = deployment_path(settings.deployments_dir, settings.chain_id)
    deploy_system(deployer, stack_config(hot), path=path)
    deployment = load_deployment(path, settings.chain_id)
    dest = ape.accounts.test_accounts[4].address
    whitelist_demo_destination(ape, deployment, dest)
    jobs, keeper_desc = start_keeper(settings, deployment, hsm)
    return {
        "settings": settings,
        "contracts": {**deployment.addresses, "hsm_token": hsm.token_label,
                      "keeper_hot_key": hot, "keeper_issuance_key": issuance},
        "database_display": settings.redacted_database_url(),
        "keeper": keeper_desc,
        "keeper_jobs": jobs,
        "hsm": hsm,
        "demo_destination": dest,
        "stop": jobs.stop,
    }


# The keeper's HSM keys that send transactions and need gas: withdrawals and sweeps, deposits of
# minted coins, staking operations.
GAS_KEYS = (HOT_KEY, ISSUANCE_KEY, STAKING_KEY)
PARTNER_PORT = 8121  # the local custody partner (Warp Data)
VENUE_SEED = 15  # the local venues' market (reference price walk, makers, faults) is seeded
# Test-mnemonic indices of the local staking pool's outside roles (reward distributor, slasher).
STAKING_ROLE_INDICES = (19, 20)


def stack_config(hot: str) -> SystemConfig:
    """The system configuration of a local stack (``make run`` and ``scripts/deploy.py``): the
    test mnemonic's roles (:func:`local_config`), the HSM key ``eth-hot`` as the vault's operator
    and the local staking pool's outside roles."""
    rewarder, slasher = (str(derived_signer(i).address) for i in STAKING_ROLE_INDICES)
    return local_config(operator=hot, staking_rewarder=rewarder, staking_slasher=slasher)


def hot_address(hsm: HsmConfig) -> str:
    """The address of the HSM key ``eth-hot``: the vault's CUSTOMER (the keeper's
    withdrawals)."""
    from keeper.flows import HOT_KEY

    return key_address(hsm, HOT_KEY)


def key_address(hsm: HsmConfig, label: str) -> str:
    """The address of the HSM key ``label`` (its pinned public key), e.g. ``eth-issuance``: the
    issuance address the issuer mints the bank's inventory to (no vault role; it only deposits
    the minted coins into the vault)."""
    from keeper.keys import eth_address
    from keeper.keys.hsm.pins import pinned_key

    assert hsm.pins is not None
    return eth_address(pinned_key(hsm.pins, label))


def whitelist_demo_destination(ape: Any, deployment: Deployment, dest: str) -> None:
    """List ``dest`` on the vault's Whitelist through its governance path (2 of the 3 owners
    of the compliance multisig sign), then let the fork's clock pass the activation delay."""
    from scripts.deployments import derived_signer, exec_multisig

    whitelist = ape.project.Whitelist.at(deployment.address("whitelist"))
    safe = ape.project.Multisig.at(deployment.address("compliance_multisig"))
    exec_multisig(safe, [derived_signer(15), derived_signer(16)], whitelist,
                  whitelist.add.encode_input(dest), sender=ape.accounts.test_accounts[0])
    ape.chain.provider.make_request("evm_increaseTime", [int(whitelist.activation_delay()) + 1])
    ape.chain.mine(1)


def start_keeper(settings: Settings, deployment: Deployment,
                 hsm: HsmConfig | None = None) -> tuple[Any, str]:
    """Start the keeper's scheduled jobs (chain follower, hold expiry, alerts, audit anchoring
    with ``hsm``'s ``audit-anchor`` key, the flows and the chain sender with its ``eth-hot``
    key); return (the :class:`keeper.jobs.KeeperJobs`, description)."""
    from keeper.jobs import KeeperJobs

    jobs = KeeperJobs(settings, deployment, hsm=hsm)
    jobs.start()
    desc = (f"following vault {deployment.vault} on {settings.rpc_url} "
            f"({settings.confirmations} confirmations)")
    return jobs, desc


def _unlocked(step: Callable[[], Any], attempts: int = 6) -> Any:
    """Run ``step`` again when SQLite refused its write with "database is locked": an ORM
    session that read before writing cannot upgrade its lock once the keeper's jobs committed
    meanwhile (WAL), whatever the busy timeout; nothing was written, so a retry is safe."""
    import time

    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            return step()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def new_client(ledger: Any, name: str, scopes: tuple[str, ...], label: str,
               **profile: Any) -> tuple[Any, str]:
    """A client (with ``profile`` fields, if any) and a new API key of ``scopes``; each step
    in its own session, retried on a lock conflict (:func:`_unlocked`)."""
    from sqlalchemy.orm import Session

    from keeper import clients

    def create() -> Any:
        with Session(ledger.engine) as s:
            return clients.create_client(s, ledger, name)

    def key(client_id: str) -> str:
        with Session(ledger.engine) as s:
            return clients.issue_key(s, client_id, scopes, label=label).api_key

    client = _unlocked(create)
    if profile:
        _unlocked(lambda: clients.set_profile(ledger.engine, client.id, actor="make run", **profile))
    return client, _unlocked(lambda: key(client.id))


def demo_deposit(ape: Any, summary: dict[str, Any], api_url: str, timeout: float = 60.0) -> str:
    """End-to-end demonstration on the fresh stack, through real parts only.

    Creates a client with an API key (written to ``.data/run/demo-api-key``, mode 0600, never
    printed), deposits 1 ETH into the vault with the client's reference from a dev account, mines
    the confirmations, waits for the keeper to credit the ledger, and reads the balance back
    through the API with the client's key. Returns a one-line description; raises if the credit
    does not show up within ``timeout`` seconds.
    """
    import json
    import os
    import time
    import urllib.request

    from keeper.clients import CLIENT_READ
    from keeper.ledger import Ledger

    settings: Settings = summary["settings"]
    ledger = Ledger(settings.database_url, group_commit=False)
    try:
        client, api_key = new_client(ledger, "Demo Client", (CLIENT_READ,), "make run demo")
    finally:
        ledger.close()
    key_file = run_dir(settings) / "demo-api-key"
    key_file.write_text(api_key)
    os.chmod(key_file, 0o600)

    vault = ape.project.Vault.at(summary["contracts"]["vault"])
    depositor = ape.accounts.test_accounts[2]
    amount = 10**18
    vault.depositEth(bytes.fromhex(client.client_ref.removeprefix("0x")), value=amount, sender=depositor)
    ape.chain.mine(settings.confirmations)

    request = urllib.request.Request(f"{api_url}/v1/balances",  # noqa: S310 - loopback API
                                     headers={"Authorization": f"Bearer {api_key}"})
    deadline = time.monotonic() + timeout
    credited = "0"
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback only
            body = json.loads(resp.read())
        credited = next((row["balance"] for row in body["balances"]
                         if row["asset"]["symbol"] == "ETH"), "0")
        if int(credited) == amount:
            return (f"client {client.id} deposited 1 ETH (ref {client.client_ref[:10]}...); "
                    f"the keeper credited it after {settings.confirmations} confirmations; "
                    f"GET /v1/balances -> ETH {credited} wei (key in {key_file})")
        time.sleep(0.5)
    raise RuntimeError(f"demo deposit not credited within {timeout}s (API shows {credited})")


# --- core banking, issuer and the banking flows (make run) ---------------------------------

DEMO_WIRE_CENTS = 50_000_000  # USD 500,000.00 wired to each demo customer
INVENTORY_UNITS = 1_000_000 * 10**6  # 1,000,000 USDC minted by the issuer for the bank


def _secret(folder: Path, name: str, value: str | None = None) -> Path:
    """A 0600 secret file under ``folder`` (a fresh random value unless given); its path."""
    import secrets as _secrets

    from keeper.keys.secrets import write_secret_file

    path = folder / name
    write_secret_file(path, value if value is not None else _secrets.token_hex(24))
    return path


def _wait_http(url: str, proc: Any, log: Path, timeout: float = 60.0) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: service exited {proc.returncode}: {log.read_text()[-1500:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


def start_services(summary: dict[str, Any], api_url: str, *, atlas_port: int,
                   issuer_port: int, venue_ports: dict[str, int] | None = None,
                   partner_port: int = PARTNER_PORT) -> dict[str, Any]:
    """Start the local ATLAS, issuer, trading venues and custody partner as their own processes
    (keys as 0600 files under the run's ``secrets_dir``), and point the run's settings at them
    (the venues through a registry file, funded; the partner may pay withdrawals only to the
    vault). Adds ``services`` (their URLs and key files) and
    ``stop_services`` (idempotent; registered first, so a failure while starting still stops
    what started) to ``summary``. A busy port is refused."""
    import secrets
    import socket
    import subprocess
    import sys

    from eth_account import Account

    from keeper.clients import COREBANKING
    from keeper.config import ROOT
    from keeper.integrations.corebanking import ATLAS_KEY_FILE
    from keeper.integrations.issuer import ISSUER_KEY_FILE, ISSUER_WEBHOOK_SECRET_FILE
    from keeper.keys.secrets import read_private_file
    from keeper.ledger import Ledger
    from keeper.partners import PARTNER_KEY_FILE, PARTNER_WEBHOOK_SECRET_FILE
    from scripts.services.venues.launch import (
        VENUE_PORTS,
        fund_venue,
        venue_argv,
        write_registry,
    )

    settings: Settings = summary["settings"]
    folder = run_dir(settings)
    secrets_dir = folder / "secrets"
    ledger = Ledger(settings.database_url, group_commit=False)
    try:
        # the key ATLAS uses to notify us (scope corebanking)
        _, notify_key = new_client(ledger, "ATLAS core banking", (COREBANKING,),
                                   "ATLAS notifications")
    finally:
        ledger.close()
    atlas_url, issuer_url = f"http://127.0.0.1:{atlas_port}", f"http://127.0.0.1:{issuer_port}"
    minter = Account.create()
    files = {
        "atlas_api": _secret(secrets_dir, ATLAS_KEY_FILE), "atlas_ops": _secret(secrets_dir, "atlas-ops.key"),
        "atlas_notify": _secret(secrets_dir, "atlas-notify.key", notify_key),
        "issuer_api": _secret(secrets_dir, ISSUER_KEY_FILE),
        "issuer_admin": _secret(secrets_dir, "issuer-admin.token"),
        "issuer_webhook": _secret(secrets_dir, ISSUER_WEBHOOK_SECRET_FILE),
        "minter": _secret(secrets_dir, "issuer-minter.key", minter.key.hex()),
    }
    atlas_argv = [sys.executable, "-m", "scripts.services.atlas", "--port", str(atlas_port),
                  "--db", str(folder / "atlas.db"), "--api-key-file", str(files["atlas_api"]),
                  "--ops-key-file", str(files["atlas_ops"]), "--platform-url", api_url,
                  "--platform-key-file", str(files["atlas_notify"])]
    issuer_argv = [sys.executable, "-m", "scripts.services.issuer", "--port", str(issuer_port),
                   "--db", str(folder / "issuer.db"), "--rpc", settings.rpc_url,
                   "--minter-key-file", str(files["minter"]),
                   "--api-key-file", str(files["issuer_api"]),
                   "--admin-token-file", str(files["issuer_admin"]),
                   "--webhook", f"{api_url}/v1/hooks/issuer",
                   "--webhook-secret-file", str(files["issuer_webhook"]), "--confirmations", "2",
                   "--configure-minter-allowance", str(10**15 * 10**6)]
    procs: list[subprocess.Popen[bytes]] = []

    def stop() -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    summary["stop_services"] = stop
    venue_ports = dict(VENUE_PORTS if venue_ports is None else venue_ports)
    venue_urls = {n: f"http://127.0.0.1:{port}" for n, port in venue_ports.items()}
    venue_keys = {n: (_secret(secrets_dir, f"venue-{n}.key"),
                      _secret(secrets_dir, f"venue-{n}-admin.key")) for n in venue_ports}
    starts = [("atlas", atlas_argv, atlas_port, f"{atlas_url}/atlas/health"),
              ("issuer", issuer_argv, issuer_port, f"{issuer_url}/health")]
    starts += [(f"venue-{n}", venue_argv(n, port, folder / f"venue-{n}.db", *venue_keys[n],
                                         seed=VENUE_SEED), port, f"{venue_urls[n]}/health")
               for n, port in venue_ports.items()]
    partner_url = f"http://127.0.0.1:{partner_port}"
    vendor = folder / "partner"  # the partner's own secrets: its custody key and admin token
    partner_argv = [
        sys.executable, "-m", "scripts.services.partner", "--port", str(partner_port),
        "--db", str(folder / "partner.db"), "--rpc", settings.rpc_url,
        "--key-file", str(_secret(vendor, "custody.key", secrets.token_hex(32))),
        "--api-key-file", str(_secret(secrets_dir, PARTNER_KEY_FILE)),
        "--admin-token-file", str(_secret(vendor, "admin.token")),
        "--whitelist", summary["contracts"]["vault"],
        "--webhook", f"{api_url}/v1/hooks/partner",
        "--webhook-secret-file", str(_secret(secrets_dir, PARTNER_WEBHOOK_SECRET_FILE)),
        "--confirmations", "2"]
    starts.append(("partner", partner_argv, partner_port, f"{partner_url}/health"))
    for name, argv, port, health in starts:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                raise RuntimeError(f"{name}: port {port} is already in use (another stack, or set "
                                   f"STRONGROOM_{name.upper()}_PORT)")
        log = folder / f"{name}.log"
        with log.open("ab") as out:
            procs.append(subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT))
        _wait_http(health, procs[-1], log)
    prices = folder / "prices.json"
    prices.write_text(json.dumps({"as_of": datetime.now(UTC).isoformat(), "prices": {
        "USDC": 100, "USDT": 100, "ETH": 300_000, "BTC": 6_000_000}}))
    for n, url in venue_urls.items():
        fund_venue(url, read_private_file(venue_keys[n][1]))
    registry = write_registry(folder / "venues.json", venue_urls,
                              {n: keys[0].name for n, keys in venue_keys.items()})
    summary["settings"] = settings.model_copy(update={
        "atlas_url": atlas_url, "issuer_url": issuer_url, "secrets_dir": secrets_dir,
        "prices_file": prices, "atlas_port": atlas_port, "issuer_port": issuer_port,
        "trading_venues_file": registry, "partner_url": partner_url,
        "partner_whitelist": (summary["contracts"]["vault"],)})
    summary["services"] = {"atlas": atlas_url, "issuer": issuer_url, "files": files,
                           "minter": minter.address, "venues": venue_urls,
                           "partner": partner_url}
    if (jobs := summary.get("keeper_jobs")) is not None:
        jobs.settings = summary["settings"]  # the flows jobs reach core banking and the issuer
    return summary


def _wait(what: str, check: Callable[[], Any], ape: Any, timeout: float = 90.0) -> Any:
    """Poll ``check`` (mining a block between tries) until it returns something truthy."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out := check()):
            return out
        ape.chain.mine(1)
        time.sleep(0.3)
    raise RuntimeError(f"{what}: not done within {timeout}s")


def fund_inventory(ape: Any, summary: dict[str, Any]) -> list[str]:
    """The issuer mints the bank's USDC inventory to the issuance address (the HSM key
    ``eth-issuance``, no vault role); the keeper deposits it from that key into the vault with
    the inventory's reference (as the flows do after a mint) and credits it to the sub-ledger."""
    import uuid

    from keeper.assets import USDC
    from keeper.chain import SenderConfig, TxSender
    from keeper.chain.sender import MINED
    from keeper.flows import INVENTORY_CLIENT
    from keeper.flows.withdrawals import deposit_to_inventory, inventory_ref
    from keeper.integrations.issuer import IssuerClient, MintStatus
    from keeper.keys import Keyring
    from keeper.keys.secrets import Secret, read_private_file
    from keeper.ledger import Ledger

    settings: Settings = summary["settings"]
    files = summary["services"]["files"]
    issuance = summary["contracts"]["keeper_issuance_key"]
    issuer = IssuerClient(settings.issuer_url, Secret(read_private_file(files["issuer_api"])))
    ledger = Ledger(settings.database_url, group_commit=False)
    ring = Keyring.from_hsm(summary["hsm"], labels=(ISSUANCE_KEY,))
    sender = TxSender(ledger.engine, ape.chain.provider.web3, ring, ISSUANCE_KEY,
                      SenderConfig.from_settings(settings))
    intent = "make-run-inventory-deposit"
    try:
        mint = issuer.create_mint(units=INVENTORY_UNITS, destination_address=issuance,
                                  reference="make-run-inventory", idempotency_key=str(uuid.uuid4()))
        done = _wait("issuer mint", lambda: (m := issuer.get_mint(mint.mint_id)).status
                     is MintStatus.COMPLETE and m, ape)
        ref = inventory_ref(INVENTORY_CLIENT)
        ledger.register_client_ref(ref, INVENTORY_CLIENT)
        vault = summary["contracts"]["vault"]
        _wait("inventory deposit", lambda: sender.tick() is not None and deposit_to_inventory(
            sender, vault, USDC.address, INVENTORY_UNITS, ref, intent), ape)
        sent = _wait("inventory deposit mined", lambda: sender.tick() is not None and (
            (s := sender.status(intent)) is not None and s.state == MINED and s), ape)
        ape.chain.mine(settings.confirmations)
        account = ledger.client_account(INVENTORY_CLIENT, "USDC")
        _wait("inventory credit", lambda: ledger.balance(account).credit_balance >= INVENTORY_UNITS,
              ape)
    finally:
        sender.close()
        ring.close()
        ledger.close()
        issuer.close()
    return [f"issuer mint {done.mint_id}: {INVENTORY_UNITS // 10**6:,} USDC to {issuance} "
            f"(tx {done.blockchain_tx_id})",
            f"vault deposit of the inventory: tx {sent.mined_hash} (sent by the HSM issuance "
            f"key, which holds no vault role; credited to {INVENTORY_CLIENT})"]


def demo_flows(ape: Any, summary: dict[str, Any], api_url: str) -> list[str]:
    """A buy, a sell, an on-us transfer, a deposit notice from core banking and a withdrawal
    request, through the API against the local chain, issuer and ATLAS; returns what to print
    (order ids and where to look at them; keys go to 0600 files only)."""
    import uuid
    from datetime import date, timedelta

    import httpx

    from keeper import clients
    from keeper.integrations.corebanking import AtlasOpsClient
    from keeper.keys.secrets import Secret, read_private_file
    from keeper.ledger import Ledger

    settings: Settings = summary["settings"]
    files = summary["services"]["files"]
    lines = fund_inventory(ape, summary)
    ops = AtlasOpsClient(settings.atlas_url, Secret(read_private_file(files["atlas_ops"])))
    ledger = Ledger(settings.database_url, group_commit=False)
    keys, ids = {}, {}
    try:
        for name in ("Alice Treasury", "Bob Payments"):
            customer = f"CUST-{name.split()[0].upper()}"
            c, api_key = new_client(ledger, name, (clients.CUSTOMER_TRADE, clients.CLIENT_READ),
                                    "make run flows", bank_customer_id=customer, country="GB",
                                    kyc_valid_until=date.today() + timedelta(days=365))
            _secret(run_dir(settings), f"{customer.lower()}-api-key", api_key)
            ops.create_customer(customer, name)
            ops.wire_in(str(uuid.uuid4()), customer, DEMO_WIRE_CENTS, "make run funding")
            keys[customer], ids[customer] = api_key, c.id
    finally:
        ledger.close()
    alice, bob = "CUST-ALICE", "CUST-BOB"

    def post(path: str, body: dict[str, Any], who: str) -> dict[str, Any]:
        r = httpx.post(f"{api_url}{path}", json=body, timeout=30,
                       headers={"Authorization": f"Bearer {keys[who]}",
                                "Idempotency-Key": str(uuid.uuid4())})
        out = r.json()
        return out if r.status_code < 400 else {"refused": r.status_code, **out["error"]}

    buy = post("/v1/orders/buy", {"asset": "USDC", "fiat_cents": "10000000"}, alice)
    sell = post("/v1/orders/sell", {"asset": "USDC", "units": str(20_000 * 10**6)}, alice)
    transfer = post("/v1/transfers", {"to_client_id": ids[bob], "asset": "USDC",
                                      "units": str(1_000 * 10**6)}, alice)
    to = summary["demo_destination"]
    withdrawal = post("/v1/withdrawals", {"asset": "USDC", "to_address": to,
                                          "units": str(500 * 10**6)}, alice)
    paid = withdrawal_paid(ape, summary, api_url, keys[alice], withdrawal)
    wire = ops.wire_in(str(uuid.uuid4()), bob, 1_002_500, "buy USDC", earmark_buy=True)
    tx = str(wire.transaction_id)

    def delivered() -> dict[str, Any] | None:
        n = ops.notification(tx)
        return n if n.get("status") != "pending" else None

    notice = _wait("deposit notice", delivered, ape, timeout=30)
    ops.close()
    gl = end_of_day_gl(settings)
    for what, order in (("buy 100,000.00 USD of USDC", buy), ("sell 20,000 USDC", sell),
                        ("on-us transfer 1,000 USDC to Bob", transfer),
                        ("withdraw 500 USDC on-chain", withdrawal)):
        if "refused" in order:
            lines.append(f"{what}: refused {order['refused']} {order['code']}: {order['message']}")
        else:
            lines.append(f"{what}: order {order['id']} {order['state']} (fee {order['fee_cents']} "
                         f"cents) -> GET {api_url}/v1/orders/{order['id']}")
    lines.append(paid)
    lines.append(f"ATLAS wire {tx} earmarked for a buy: notice "
                 f"{notice.get('status')} -> {notice.get('answer')}")
    lines.append(f"ATLAS entries: GET {settings.atlas_url}/atlas/customers/{alice}/history "
                 f"(platform key {files['atlas_api']}); trial balance /atlas/ledger/trial-balance "
                 f"(ops key {files['atlas_ops']})")
    lines.append(f"EOD GL batch {gl.batch_id}: {gl.status} as {gl.atlas_batch_id} "
                 f"({len(gl.batch.entries) if gl.batch else 0} balanced lines)")
    lines.append(f"client API keys: {run_dir(settings)}/cust-alice-api-key, cust-bob-api-key")
    return lines


def withdrawal_paid(ape: Any, summary: dict[str, Any], api_url: str, api_key: str,
                    order: dict[str, Any]) -> str:
    """Mine blocks until the keeper's jobs (chain sender, flows) report the withdrawal
    ``completed`` through the API; returns a line with the vault's payment tx hash and the
    destination's USDC balance on the chain."""
    import httpx

    from keeper.assets import USDC
    from keeper.flows.store import load
    from keeper.ledger import make_engine

    if "refused" in order:
        raise RuntimeError(f"demo withdrawal refused: {order}")
    url = f"{api_url}/v1/orders/{order['id']}"

    def done() -> dict[str, Any] | None:
        got = httpx.get(url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}).json()
        if got.get("state") == "failed":
            raise RuntimeError(f"demo withdrawal failed: {got.get('reason')}")
        return got if got.get("state") == "completed" else None

    _wait("withdrawal paid", done, ape, timeout=120)
    settings: Settings = summary["settings"]
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            found = load(conn, order["id"])
    finally:
        engine.dispose()
    tx = found[1].get("tx") if found else None
    usdc = ape.project.FiatTokenV2.at(USDC.address)
    dest = summary["demo_destination"]
    return (f"withdrawal {order['id']}: PAID 500 USDC by the vault to {dest} (whitelisted by "
            f"the compliance multisig) in tx {tx}; USDC there now {usdc.balanceOf(dest)}")


def end_of_day_gl(settings: Settings) -> Any:
    """Post today's GL batch of the sub-ledger's stablecoin movements to ATLAS now."""
    from contextlib import closing

    from keeper.gl import GLBatches
    from keeper.integrations.corebanking import atlas_from_settings
    from keeper.ledger import Ledger

    ledger = Ledger(settings.database_url, group_commit=False)
    bank = atlas_from_settings(settings)
    assert bank is not None
    try:
        with closing(bank):
            # the keeper's jobs write meanwhile; a run refused with "database is locked" wrote
            # nothing and is safe to repeat (the batch is idempotent per date, ATLAS per batch id)
            batches = GLBatches(ledger.engine, bank, ledger.raise_alert)
            return _unlocked(lambda: batches.run(datetime.now(UTC).date()))
    finally:
        ledger.close()
