"""The local "mainnet": an upstream anvil (chain id 1) holding what Strongroom custodies.

It carries, at their real Ethereum mainnet addresses:

* a USDC-faithful token (``contracts/tokens/FiatTokenV2.vy``) at 0xA0b8...eB48,
* a USDT-faithful token (``contracts/tokens/TetherToken.vy``) at 0xdAC1...1ec7,
* the audited Safe 1.4.1 suite, deployed from the npm ``@safe-global/safe-contracts`` build
  artifacts through the Safe singleton factory with salt 0, i.e. at its canonical addresses.

The tokens land at the real addresses because we replay the real deployment: the real deployer
account is impersonated and its nonce set to the one it had when it created the contract.

``build`` deploys all of that once into a fresh anvil and dumps the chain state to
``.data/localnet/state.json``; ``start`` serves that state on 127.0.0.1:18545 in about a second.
The state is rebuilt only when its inputs change: the token sources, the npm lock (Safe artifacts)
and the build recipe in this file (its parameters and build steps, see :func:`inputs_digest`).

Usage: ``python scripts/localnet.py {build,start,stop,status,url}`` (``url`` prints where it is
served: ``scripts/test.sh`` serves it only when ape-config.yaml's upstream is that URL).
Data folder and port come from :class:`keeper.config.Settings` (``STRONGROOM_DATA``,
``STRONGROOM_UPSTREAM_PORT``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keeper.assets import USDC, USDT
from keeper.config import ENVIRONMENT, LOOPBACK, ROOT, load_settings

SETTINGS = load_settings()
LOCALNET_DIR = SETTINGS.data_dir / "localnet"
STATE_FILE = LOCALNET_DIR / "state.json"
MANIFEST_FILE = LOCALNET_DIR / "manifest.json"
PID_FILE = LOCALNET_DIR / "anvil.pid"
LOG_FILE = LOCALNET_DIR / "anvil.log"
SERVED_FILE = LOCALNET_DIR / "served.digest"
HOST = LOOPBACK
PORT = SETTINGS.upstream_port
CHAIN_ID = 1  # like Ethereum mainnet: the fork is ape's ethereum:mainnet-fork

SAFE_ARTIFACTS = ROOT / "node_modules/@safe-global/safe-contracts/build/artifacts/contracts"
SAFE_DEPLOYMENTS = ROOT / "node_modules/@safe-global/safe-deployments/dist/assets/v1.4.1"
TOKENS_DIR = ROOT / "contracts/tokens"

# anvil preinstalls Arachnid's deterministic CREATE2 deployer; Safe's singleton factory runs the
# very same code at its own address, which is what makes Safe's canonical addresses reachable.
ARACHNID_DEPLOYER = "0x4e59b44847b379578588920ca78fbf26c0b4956c"
SAFE_SINGLETON_FACTORY = "0x914d7Fec6aaC8cd542e72Bca78B30650d45643d7"

# deployments file name -> artifact path (relative to SAFE_ARTIFACTS)
SAFE_CONTRACTS = {
    "safe": "Safe.sol/Safe.json",
    "safe_l2": "SafeL2.sol/SafeL2.json",
    "safe_proxy_factory": "proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
    "compatibility_fallback_handler":
        "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
    "multi_send": "libraries/MultiSend.sol/MultiSend.json",
    "multi_send_call_only": "libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json",
    "create_call": "libraries/CreateCall.sol/CreateCall.json",
    "sign_message_lib": "libraries/SignMessageLib.sol/SignMessageLib.json",
    "simulate_tx_accessor": "accessors/SimulateTxAccessor.sol/SimulateTxAccessor.json",
}

# The anvil / ape development mnemonic's accounts 8 and 9 hold the token roles on the local
# mainnet (on the real mainnet, Circle and Tether hold them; tests read roles from the tokens).
DEV_ACCOUNTS = {
    "issuer_minter": "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",  # account 8
    "token_admin": "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",  # account 9
}
MINTER_ALLOWANCE = 10**18  # 1e12 USDC in base units: the local issuer's mint allowance


@dataclass(frozen=True)
class TokenSpec:
    """A token replayed at its real mainnet address from its real deployer and nonce."""

    symbol: str
    source: str
    address: str
    deployer: str
    nonce: int
    args: tuple[Any, ...]


TOKENS = (
    TokenSpec(
        "USDC", "FiatTokenV2.vy", str(USDC.address),
        "0x95Ba4cF87D6723ad9C0Db21737D862bE80e93911", 20,
        ("USD Coin", "USDC", "USD", 6, DEV_ACCOUNTS["token_admin"], DEV_ACCOUNTS["token_admin"],
         DEV_ACCOUNTS["token_admin"], DEV_ACCOUNTS["token_admin"]),
    ),
    TokenSpec(
        "USDT", "TetherToken.vy", str(USDT.address),
        "0x36928500Bc1dCd7af6a2B4008875CC336b927D57", 6,
        (100_000_000_000 * 10**6, "Tether USD", "USDT", 6),
    ),
)


class LocalnetError(RuntimeError):
    """A clear, one-line reason why the local mainnet cannot be built or served."""


# --------------------------------------------------------------------------------------------
# anvil process handling
# --------------------------------------------------------------------------------------------


def anvil_binary() -> str:
    """Return the anvil executable from npm (``node_modules/.bin``) or PATH."""
    local = ROOT / "node_modules/.bin/anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if not found:
        raise LocalnetError(
            "anvil not found: run `npm ci` in the project root (package @foundry-rs/anvil-linux-amd64)"
        )
    return found


def free_port() -> int:
    """Ask the kernel for a free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True when something already listens on the loopback port."""
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 30.0) -> Any:
    """Make one JSON-RPC call and return its result, raising on an RPC error."""
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    if not url.startswith(("http://", "https://")):
        raise LocalnetError(f"not an HTTP URL: {url}")
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body.encode(), headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
        reply = json.loads(response.read())
    if "error" in reply:
        raise LocalnetError(f"{method} failed: {reply['error']}")
    return reply["result"]


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    """Wait until the node at ``url`` answers ``eth_chainId``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise LocalnetError(f"anvil exited with code {proc.returncode}; see {LOG_FILE}")
        try:
            rpc(url, "eth_chainId", timeout=2)
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    raise LocalnetError(f"node at {url} did not answer within {timeout}s")


def spawn_anvil(port: int, extra: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start anvil with chain id 1 on a loopback port, detached from our process group."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [anvil_binary(), "--chain-id", str(CHAIN_ID), "--host", HOST, "--port", str(port), *extra]
    with open(log_path, "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)


# --------------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------------


def _recipe() -> bytes:
    """What the state is built from in this module: its parameters and the code of the build steps.

    Not the whole file: settings, serving code and comments outside the build steps do not change
    the chain, so editing them neither forces a rebuild nor restarts a served upstream.
    """
    import inspect

    steps = (spawn_anvil, send_and_wait, compile_vyper, deploy_safe_suite, deploy_token, call, build)
    params = repr((CHAIN_ID, ARACHNID_DEPLOYER, SAFE_SINGLETON_FACTORY, SAFE_CONTRACTS, DEV_ACCOUNTS,
                   MINTER_ALLOWANCE, TOKENS))
    return (params + "".join(inspect.getsource(f) for f in steps)).encode()


def inputs_digest() -> str:
    """Hash everything the state depends on, so a stale dump is rebuilt and a fresh one reused."""
    digest = hashlib.sha256(_recipe())
    paths = [ROOT / "package-lock.json", *sorted(TOKENS_DIR.glob("*.vy"))]
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def is_fresh() -> bool:
    """True when a state dump exists and was built from the current inputs."""
    if not (STATE_FILE.exists() and MANIFEST_FILE.exists()):
        return False
    manifest = json.loads(MANIFEST_FILE.read_text())
    return manifest.get("inputs_digest") == inputs_digest()


def compile_vyper(path: Path) -> tuple[list[dict[str, Any]], str]:
    """Compile a Vyper file with the pip-installed compiler; return (abi, init bytecode)."""
    import vyper

    out = vyper.compile_code(path.read_text(), output_formats=["abi", "bytecode"])
    return out["abi"], out["bytecode"]


def send_and_wait(url: str, tx: dict[str, Any]) -> dict[str, Any]:
    """Send an (impersonated) transaction on anvil and return its successful receipt."""
    tx_hash = rpc(url, "eth_sendTransaction", [tx])
    receipt = None
    for _ in range(200):
        receipt = rpc(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            break
        time.sleep(0.02)
    if receipt is None or int(receipt["status"], 16) != 1:
        raise LocalnetError(f"transaction {tx_hash} failed: {receipt}")
    return receipt


def deploy_safe_suite(url: str, funder: str) -> dict[str, dict[str, str]]:
    """Deploy the Safe 1.4.1 contracts at their canonical addresses and check their code hashes."""
    from eth_utils import keccak, to_checksum_address

    arachnid_code = rpc(url, "eth_getCode", [ARACHNID_DEPLOYER, "latest"])
    if len(arachnid_code) <= 2:
        raise LocalnetError("anvil has no deterministic deployer preinstalled")
    rpc(url, "anvil_setCode", [SAFE_SINGLETON_FACTORY, arachnid_code])
    deployed: dict[str, dict[str, str]] = {}
    for name, artifact in SAFE_CONTRACTS.items():
        meta = json.loads((SAFE_DEPLOYMENTS / f"{name}.json").read_text())
        canonical = meta["deployments"]["canonical"]
        bytecode = json.loads((SAFE_ARTIFACTS / artifact).read_text())["bytecode"]
        salt = "00" * 32
        send_and_wait(url, {"from": funder, "to": SAFE_SINGLETON_FACTORY,
                            "data": "0x" + salt + bytecode[2:], "gas": hex(15_000_000)})
        address = to_checksum_address(canonical["address"])
        code = rpc(url, "eth_getCode", [address, "latest"])
        code_hash = "0x" + keccak(hexstr=code).hex()
        if code_hash != canonical["codeHash"]:
            raise LocalnetError(f"Safe {meta['contractName']} at {address}: code hash {code_hash} "
                                f"!= canonical {canonical['codeHash']}")
        deployed[meta["contractName"]] = {"address": address, "codeHash": code_hash}
    return deployed


def deploy_token(url: str, spec: TokenSpec, funder: str) -> dict[str, Any]:
    """Replay a token's creation from its real deployer so it lands at its real address."""
    from eth_abi import encode
    from eth_utils import to_checksum_address

    abi, bytecode = compile_vyper(TOKENS_DIR / spec.source)
    ctor = next(item for item in abi if item["type"] == "constructor")
    types = [arg["type"] for arg in ctor["inputs"]]
    data = bytecode + encode(types, list(spec.args)).hex()
    rpc(url, "anvil_impersonateAccount", [spec.deployer])
    rpc(url, "anvil_setBalance", [spec.deployer, hex(10**20)])
    rpc(url, "anvil_setNonce", [spec.deployer, hex(spec.nonce)])
    receipt = send_and_wait(url, {"from": spec.deployer, "data": data, "gas": hex(15_000_000)})
    address = to_checksum_address(receipt["contractAddress"])
    if address != to_checksum_address(spec.address):
        raise LocalnetError(f"{spec.symbol} landed at {address}, expected {spec.address}")
    return {"address": address, "deployer": spec.deployer, "abi": abi}


def call(url: str, sender: str, to: str, abi: list[dict[str, Any]], fn: str, *args: Any) -> None:
    """Send a contract call from an impersonated account."""
    from eth_abi import encode
    from eth_utils import function_abi_to_4byte_selector

    item = next(i for i in abi if i.get("type") == "function" and i["name"] == fn)
    data = function_abi_to_4byte_selector(item) + encode([a["type"] for a in item["inputs"]], args)
    rpc(url, "anvil_impersonateAccount", [sender])
    rpc(url, "anvil_setBalance", [sender, hex(10**20)])
    send_and_wait(url, {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(1_000_000)})


def build(force: bool = False, quiet: bool = False) -> Path:
    """Build the local mainnet state dump unless an up-to-date one exists."""
    if not force and is_fresh():
        if not quiet:
            print(f"localnet: state is up to date ({STATE_FILE})")
        return STATE_FILE
    for spec in TOKENS:
        if not (TOKENS_DIR / spec.source).exists():
            raise LocalnetError(f"missing token source contracts/tokens/{spec.source}")
    if not SAFE_ARTIFACTS.exists() or not SAFE_DEPLOYMENTS.exists():
        raise LocalnetError("Safe artifacts missing: run `npm ci` (@safe-global/safe-contracts, "
                            "@safe-global/safe-deployments)")
    started = time.monotonic()
    LOCALNET_DIR.mkdir(parents=True, exist_ok=True)
    tmp_state = LOCALNET_DIR / "state.json.tmp"
    tmp_state.unlink(missing_ok=True)
    port = free_port()
    url = f"http://{HOST}:{port}"
    proc = spawn_anvil(port, ["--dump-state", str(tmp_state)], LOCALNET_DIR / "build.log")
    try:
        wait_ready(url, proc)
        funder = rpc(url, "eth_accounts")[0]
        safe = deploy_safe_suite(url, funder)
        tokens: dict[str, Any] = {}
        for spec in TOKENS:
            tokens[spec.symbol] = deploy_token(url, spec, funder)
        usdc, usdt = tokens["USDC"], tokens["USDT"]
        admin = DEV_ACCOUNTS["token_admin"]
        call(url, admin, usdc["address"], usdc["abi"], "configureMinter",
             DEV_ACCOUNTS["issuer_minter"], MINTER_ALLOWANCE)
        call(url, usdt["deployer"], usdt["address"], usdt["abi"], "transferOwnership", admin)
        rpc(url, "evm_mine")
    finally:
        proc.send_signal(signal.SIGINT)  # anvil writes --dump-state on a clean shutdown
        proc.wait(timeout=30)
    if not tmp_state.exists():
        raise LocalnetError("anvil did not write its state dump")
    tmp_state.replace(STATE_FILE)
    manifest = {
        "chain_id": CHAIN_ID,
        "inputs_digest": inputs_digest(),
        "safe": safe,
        "tokens": {sym: {"address": t["address"], "decimals": 6} for sym, t in tokens.items()},
        "roles": DEV_ACCOUNTS,
    }
    MANIFEST_FILE.write_text(json.dumps(manifest, indent=2))
    print(f"localnet: built {STATE_FILE} in {time.monotonic() - started:.1f}s")
    return STATE_FILE


# --------------------------------------------------------------------------------------------
# serve
# --------------------------------------------------------------------------------------------


def upstream_url() -> str:
    """The URL the upstream node answers on."""
    return SETTINGS.upstream_url


def running_pid() -> int | None:
    """PID of the served local mainnet, if it is alive."""
    if not PID_FILE.exists():
        return None
    pid = int(PID_FILE.read_text().strip() or 0)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        PID_FILE.unlink(missing_ok=True)
        return None
    return pid


def start() -> str:
    """Serve the local mainnet on 127.0.0.1:PORT (idempotent); return its URL."""
    build(quiet=True)
    url = upstream_url()
    served = SERVED_FILE.read_text() if SERVED_FILE.exists() else ""
    if running_pid() is not None:
        if served == inputs_digest():
            wait_ready(url)
            print(f"localnet: already serving {url}")
            return url
        print("localnet: the served state is stale; restarting")
        stop()
    if port_in_use(PORT):
        raise LocalnetError(f"port {PORT} is taken by another process; stop it or set "
                            f"{ENVIRONMENT['upstream_port']}")
    LOG_FILE.unlink(missing_ok=True)
    proc = spawn_anvil(PORT, ["--load-state", str(STATE_FILE)], LOG_FILE)
    wait_ready(url, proc)
    PID_FILE.write_text(str(proc.pid))
    SERVED_FILE.write_text(inputs_digest())
    print(f"localnet: serving {url} (chain id {CHAIN_ID}, pid {proc.pid})")
    return url


def stop() -> None:
    """Stop the served local mainnet, if any."""
    pid = running_pid()
    if pid is None:
        print("localnet: not running")
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if running_pid() is None:
            break
        time.sleep(0.05)
    PID_FILE.unlink(missing_ok=True)
    print("localnet: stopped")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build", "start", "stop", "status", "url"])
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--quiet", action="store_true", help="say nothing when up to date")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            build(force=args.force, quiet=args.quiet)
        elif args.command == "start":
            start()
        elif args.command == "stop":
            stop()
        elif args.command == "url":
            print(upstream_url())
        else:
            pid = running_pid()
            print(f"localnet: {'serving ' + upstream_url() if pid else 'not running'}")
    except LocalnetError as exc:
        print(f"localnet: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
