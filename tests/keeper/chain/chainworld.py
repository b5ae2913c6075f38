"""Vault deployment for the follower tests: ONE helper (importable as ``chainworld``), so a
change of the Vault's constructor or limit API is absorbed here and nowhere else."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

from keeper.assets import ETH_ADDRESS, USDC, USDT
from scripts import deployments as dep

BIG = 2**128
TOKENS = (ETH_ADDRESS, USDC.address, USDT.address)


def deploy_vault(project: Any, w3: Any, who: SimpleNamespace, predecessor: Any = None,
                 queue_threshold: int | None = None) -> Any:
    """A vault with effectively unlimited limits for ETH, USDC and USDT (``queue_threshold``:
    withdrawals above it are queued), ``who.admin`` holding ADMIN/TREASURY/CUSTOMER,
    ``who.compliance`` the compliance officer, ``who.dest`` and tier 1 (``who.warm``) active on
    its whitelist. With ``predecessor`` the vault is that vault's successor (and is whitelisted
    on the predecessor's whitelist, so the predecessor may migrate to it)."""
    if predecessor is None:
        vault, wl = dep.deploy_open_vault(project, who.admin, who.compliance)
    else:
        vault, wl = dep.deploy_open_vault(project, who.admin, who.compliance, predecessor.address)
        project.Whitelist.at(predecessor.whitelist()).add(vault.address, sender=who.compliance)
    if queue_threshold is not None:  # withdrawals above it queue (tx cap and instant budget BIG)
        for token in TOKENS:
            vault.setTokenConfig(token, True, BIG, queue_threshold, BIG, sender=who.admin)
    for account in (who.dest, who.warm):
        wl.add(account.address, sender=who.compliance)
    w3.provider.make_request("evm_increaseTime", [2])
    w3.provider.make_request("anvil_mine", ["0x1"])
    vault.setTier(1, who.warm.address, sender=who.admin)
    return vault


def usdt_owner(accounts: Any, chain: Any, usdt: Any) -> Any:
    """The USDT owner as an impersonated, funded account."""
    owner = usdt.owner()
    chain.provider.set_balance(owner, 10**20)
    return accounts[owner]


class LyingNode:
    """A JSON-RPC proxy in front of the fork that misbehaves like real providers do.

    ``empty_logs``: answers ``[]`` to every ``eth_getLogs`` (a lagging, load-balanced node);
    ``no_block_receipts``: refuses ``eth_getBlockReceipts``; ``no_receipts``: refuses every
    receipt method; ``cap``: refuses an ``eth_getLogs`` whose
    answer would hold more than ``cap`` logs (as Infura/Alchemy do); ``truncate``: silently cuts
    answers to ``truncate`` logs; ``broken``: answers every request with an internal error
    (-32603), as a node whose backend failed; ``delay``: answers every request that many seconds
    late (an overloaded node). Counts the calls per method in ``calls``.
    """

    def __init__(self, upstream: str, **modes: Any) -> None:
        import http.server
        import json
        import threading
        import urllib.request

        self.upstream, self.modes, self.calls = upstream, modes, Counter()
        node = self

        def forward(body: bytes) -> Any:
            req = urllib.request.Request(upstream, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
                return json.loads(resp.read())

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                msg = json.loads(body)
                items = msg if isinstance(msg, list) else [msg]
                out = [node.answer(item, forward) for item in items]
                data = json.dumps(out if isinstance(msg, list) else out[0]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, item: dict, forward: Any) -> dict:
        """The (mis)answer to one JSON-RPC request."""
        import json
        import time

        method = item.get("method")
        self.calls[method] += 1
        err = {"jsonrpc": "2.0", "id": item.get("id")}
        refused = {"eth_getBlockReceipts"} if self.modes.get("no_block_receipts") else set()
        if self.modes.get("no_receipts"):
            refused |= {"eth_getBlockReceipts", "eth_getTransactionReceipt"}
        if method in refused:
            return {**err, "error": {"code": -32601, "message": f"{method} not available"}}
        if self.modes.get("delay"):
            time.sleep(self.modes["delay"])
        if self.modes.get("broken"):
            return {**err, "error": {"code": -32603, "message": "internal error"}}
        if method == "eth_getLogs" and self.modes.get("empty_logs"):
            return {**err, "result": []}
        resp = forward(json.dumps(item).encode())
        if method == "eth_getLogs" and "result" in resp:
            cap, cut = self.modes.get("cap"), self.modes.get("truncate")
            if cap is not None and len(resp["result"]) > cap:
                return {**err, "error": {"code": -32005,
                                         "message": f"query returned more than {cap} results"}}
            if cut is not None:
                resp["result"] = resp["result"][:cut]
        return resp

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
