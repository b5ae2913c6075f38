"""Chain mirror bench: vault events/s mirrored into the ledger in backfill (eth_getLogs ranges).

Starts its own anvil, deploys Whitelist + Vault (ape's build of contracts/: run `make setup` or
`ape compile` first), makes N ETH
deposits spread over many blocks (automine off, mined in bursts), then times a fresh follower
backfilling them into a fresh SQLite ledger (durable commits, one per block range).
Usage: python bench/mirror.py [--deposits N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from web3 import Web3  # noqa: E402

from keeper.audit import upgrade as audit_upgrade  # noqa: E402
from keeper.chain import Follower, FollowerConfig  # noqa: E402
from keeper.ledger import Ledger, upgrade  # noqa: E402
from scripts.localnet import free_port  # noqa: E402


def _artifact(name: str) -> tuple[list, str]:
    """ABI and deployment bytecode of ``name`` from ape's build (modules resolved by ape)."""
    built = json.loads((ROOT / ".build/__local__.json").read_text())["contractTypes"][name]
    return built["abi"], built["deploymentBytecode"]["bytecode"]


def _deploy(w3: Web3, name: str, *args: object) -> str:
    abi, bytecode = _artifact(name)
    c = w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = c.constructor(*args).transact({"from": w3.eth.accounts[0]})
    return w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]


def main() -> None:
    """Run the bench and print events/s."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--deposits", type=int, default=10_000)
    ap.add_argument("--per-block", type=int, default=50)
    args = ap.parse_args()
    port = free_port()
    anvil = subprocess.Popen([str(ROOT / "node_modules/.bin/anvil"), "--port", str(port),
                              "--silent", "--gas-limit", "300000000"])
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
        for _ in range(100):
            try:
                _ = w3.eth.block_number
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.1)
        admin = w3.eth.accounts[0]
        wl = _deploy(w3, "Whitelist", admin, w3.eth.accounts[1], 86400, [])
        vault_addr = _deploy(w3, "Vault", admin, wl, "0x" + "00" * 20)  # no predecessor
        vault = w3.eth.contract(address=vault_addr, abi=_artifact("Vault")[0])
        vault.functions.setTokenConfig("0x" + "00" * 20, True, 10**30, 10**30, 10**30).transact(
            {"from": admin})
        start = w3.eth.block_number
        w3.provider.make_request("evm_setAutomine", [False])
        data = vault.encode_abi("depositEth", [(7).to_bytes(32, "big")])
        t = time.perf_counter()
        senders = w3.eth.accounts[2:10]
        for i in range(args.deposits):
            w3.provider.make_request("eth_sendTransaction", [{
                "from": senders[i % len(senders)], "to": vault_addr, "value": hex(1 + i),
                "data": data, "gas": hex(100_000)}])
            if (i + 1) % args.per_block == 0:
                w3.provider.make_request("anvil_mine", ["0x1"])
        w3.provider.make_request("anvil_mine", ["0x1"])
        print(f"made {args.deposits} deposits in {time.perf_counter() - t:.1f}s "
              f"(blocks {start + 1}..{w3.eth.block_number})")
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/mirror.db"
            upgrade(url)
            audit_upgrade(url)  # the follower audits every posting group
            lg = Ledger(url)
            lg.register_client_ref((7).to_bytes(32, "big"), "client-7")
            f = Follower(w3, lg, FollowerConfig(vault=vault_addr, confirmations=0,
                                                start_block=start + 1, range_size=100))
            t = time.perf_counter()
            n = f.run_until_synced()
            dt = time.perf_counter() - t
            f.close()
            bal = lg.balance(lg.client_account("client-7", "ETH")).credit_balance
            ok = bal == sum(range(1, args.deposits + 1)) and not lg.verify_invariants()
            print(f"mirror backfill: {n} events in {dt:.2f}s = {n / dt:,.0f} events/s "
                  f"(ledger == chain: {ok}; every header read and bloom-checked, balance "
                  f"checked after each of the {-(-(w3.eth.block_number - start) // 100)} ranges; "
                  f"receipt re-reads {f.reader.receipt_reads}, range splits {f.reader.splits})")
            lg.close()
    finally:
        anvil.terminate()
        anvil.wait()


if __name__ == "__main__":
    main()
