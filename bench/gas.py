"""Gas of an ERC-20 transfer through our Multisig vs a real Safe 1.4.1 proxy.

Plain script: `.venv/bin/python bench/gas.py`. Starts its own anvil on a free port, deploys
contracts/Multisig.vy (compiled with the installed vyper), the Safe 1.4.1 singleton + proxy
factory from the npm artifacts, a minimal ERC-20, and prints transaction gas (receipt gasUsed,
intrinsic + calldata included) for 2-of-3 and 3-of-5 transfers signed with ECDSA.

"first" = the wallet's first transaction (nonce 0 -> 1, recipient balance 0 -> x);
"steady" = a later one (nonce and recipient balance already non-zero);
"batch of 2" = two ERC-20 transfers in one transaction, a DELEGATECALL to Safe's
MultiSendCallOnly 1.4.1 (its artifact's runtime code placed at the canonical address).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import vyper
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak
from web3 import HTTPProvider, Web3
from web3.logs import DISCARD

ROOT = Path(__file__).resolve().parents[1]
SAFE_ARTIFACTS = ROOT / "node_modules/@safe-global/safe-contracts/build/artifacts/contracts"
ZERO = "0x0000000000000000000000000000000000000000"
MULTISEND_CALL_ONLY = "0x9641d764fc13c8B624c04430C7356C1C7C8102e2"
TOKEN_SOURCE = """# pragma version 0.4.3
balanceOf: public(HashMap[address, uint256])

@external
def mint(to: address, amount: uint256):
    self.balanceOf[to] += amount

@external
def transfer(to: address, amount: uint256) -> bool:
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    return True
"""
SIGNER_KEYS = [keccak(text=f"strongroom-bench-owner-{i}") for i in range(5)]


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_anvil(port: int) -> subprocess.Popen:
    """anvil from node_modules (or PATH) on `port`; returns the process once it answers."""
    binary = ROOT / "node_modules/.bin/anvil"
    exe = str(binary) if binary.exists() else shutil.which("anvil")
    if exe is None:
        sys.exit("anvil not found: run `make setup` (npm @foundry-rs/anvil-linux-amd64)")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--silent", "--chain-id", "31337"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}"))
    for _ in range(100):
        try:
            if w3.is_connected():
                return proc
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("anvil did not start")


def deploy(w3: Web3, sender: str, abi: list, bytecode: str, *args):
    """Deploy and return a web3 contract."""
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": sender}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


def compile_vyper(source: str) -> tuple[list, str]:
    """(abi, bytecode) of a self-contained source from the installed vyper."""
    out = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    return out["abi"], out["bytecode"]


def compile_vyper_file(path: Path) -> tuple[list, str]:
    """(abi, bytecode) of a project contract (its `from .multisig import ...` modules resolve
    relative to the file), compiled by the installed vyper CLI as ape-vyper does."""
    exe = Path(sys.executable).with_name("vyper")
    out = subprocess.run(
        [str(exe), "-f", "abi,bytecode", str(path), "-p", str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return json.loads(out[0]), out[1]


def safe_artifact(rel: str) -> dict:
    """Hardhat artifact of @safe-global/safe-contracts 1.4.1."""
    return json.loads((SAFE_ARTIFACTS / rel).read_text())


def sign(hash_: bytes, keys: list[bytes]) -> bytes:
    """Packed ECDSA signatures sorted by signer address (Safe format)."""
    signed = [Account.unsafe_sign_hash(hash_, k) for k in keys]
    pairs = sorted(
        zip([Account.from_key(k).address for k in keys], signed, strict=True), key=lambda p: int(p[0], 16)
    )
    return b"".join(s.r.to_bytes(32, "big") + s.s.to_bytes(32, "big") + bytes([s.v]) for _, s in pairs)


def transfer_data(to: str, amount: int) -> bytes:
    """ERC-20 transfer(to, amount) calldata."""
    return function_signature_to_4byte_selector("transfer(address,uint256)") + encode(
        ["address", "uint256"], [to, amount]
    )


def batch_data(token: str, recipients: list[str], amount: int) -> bytes:
    """MultiSendCallOnly.multiSend(bytes) calldata: one CALL transfer per recipient."""
    packed = b"".join(
        b"\x00"
        + bytes.fromhex(token[2:])
        + (0).to_bytes(32, "big")
        + len(transfer_data(r, amount)).to_bytes(32, "big")
        + transfer_data(r, amount)
        for r in recipients
    )
    return function_signature_to_4byte_selector("multiSend(bytes)") + encode(["bytes"], [packed])


def exec_via(w3: Web3, wallet, to: str, data: bytes, operation: int, keys: list[bytes], sender: str) -> int:
    """execTransaction(to, 0, data, operation) signed by `keys`; returns gasUsed."""
    nonce = wallet.functions.nonce().call()
    args = [to, 0, data, operation, 0, 0, 0, ZERO, ZERO]
    tx_hash = wallet.functions.getTransactionHash(*args, nonce).call()
    sigs = sign(tx_hash, keys)
    txh = wallet.functions.execTransaction(*args, sigs).transact({"from": sender, "gas": 1_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(txh)
    assert receipt["status"] == 1, "execTransaction failed"
    return receipt["gasUsed"]


def main() -> None:
    """Run the comparison and print the table."""
    port = free_port()
    proc = start_anvil(port)
    try:
        w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}"))
        sender = w3.eth.accounts[0]
        owners = [Account.from_key(k).address for k in SIGNER_KEYS]

        ms_abi, ms_bytecode = compile_vyper_file(ROOT / "contracts/Multisig.vy")
        tok_abi, tok_bytecode = compile_vyper(TOKEN_SOURCE)
        token = deploy(w3, sender, tok_abi, tok_bytecode)

        safe_art = safe_artifact("Safe.sol/Safe.json")
        fac_art = safe_artifact("proxies/SafeProxyFactory.sol/SafeProxyFactory.json")
        singleton = deploy(w3, sender, safe_art["abi"], safe_art["bytecode"])
        factory = deploy(w3, sender, fac_art["abi"], fac_art["bytecode"])
        multisend = safe_artifact("libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json")
        w3.provider.make_request("anvil_setCode", [MULTISEND_CALL_ONLY, multisend["deployedBytecode"]])

        def new_safe(n: int, m: int, salt: int):
            setup = singleton.encode_abi("setup", [owners[:n], m, ZERO, b"", ZERO, ZERO, 0, ZERO])
            txh = factory.functions.createProxyWithNonce(singleton.address, setup, salt).transact(
                {"from": sender}
            )
            receipt = w3.eth.wait_for_transaction_receipt(txh)
            proxy = factory.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)[0]["args"][
                "proxy"
            ]
            return w3.eth.contract(address=proxy, abi=safe_art["abi"])

        def new_multisig(n: int, m: int):
            recovery = [Account.from_key(keccak(text=f"rec-{i}")).address for i in range(3)]
            return deploy(w3, sender, ms_abi, ms_bytecode, owners[:n], m, recovery, 2, 30 * 86400)

        rows = []
        for n, m in ((3, 2), (5, 3)):
            wallets = {"Multisig": new_multisig(n, m), "Safe 1.4.1": new_safe(n, m, n)}
            gas: dict[str, list[int]] = {}
            for name, wallet in wallets.items():
                w3.eth.wait_for_transaction_receipt(
                    token.functions.mint(wallet.address, 10**12).transact({"from": sender})
                )
                recipient = Account.from_key(keccak(text=f"{name}-{n}")).address
                keys = SIGNER_KEYS[:m]
                data = transfer_data(recipient, 1_000_000)
                gas[name] = [exec_via(w3, wallet, token.address, data, 0, keys, sender) for _ in range(3)]
                batch = batch_data(
                    token.address,
                    [recipient, Account.from_key(keccak(text=f"{name}-{n}-b")).address],
                    1_000_000,
                )
                gas[name].append(exec_via(w3, wallet, MULTISEND_CALL_ONLY, batch, 1, keys, sender))
            ours, safe = gas["Multisig"], gas["Safe 1.4.1"]
            rows.append((f"{m}-of-{n} first", ours[0], safe[0]))
            rows.append((f"{m}-of-{n} steady", ours[2], safe[2]))
            rows.append((f"{m}-of-{n} batch of 2", ours[3], safe[3]))

        print(f"ERC-20 transfer via execTransaction, gasUsed per tx (anvil, vyper {vyper.__version__})")
        print(f"{'case':<20}{'Multisig':>10}{'Safe 1.4.1':>12}{'ours/Safe':>11}{'saved':>8}")
        for case, ours, safe in rows:
            print(f"{case:<20}{ours:>10}{safe:>12}{ours / safe:>11.3f}{safe - ours:>8}")
        print(f"Multisig runtime size: {len(w3.eth.get_code(wallets['Multisig'].address))} bytes")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
