"""The partner's balance and transaction reports as it renders them: the truth from its store,
or, under :class:`~scripts.services.partner.faults.FaultConfig` ``wrong``, a consistent lie
(the balances follow the altered transactions), or garbage under ``hostile``."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from keeper.partners.chainscan import ASSETS
from scripts.services.partner.faults import FaultConfig
from scripts.services.partner.store import Store

REPORTED = ("confirmed",)


def tx_json(row: dict[str, Any]) -> dict[str, Any]:
    """One transaction on the wire (amounts: decimal strings of base units)."""
    return {"id": row["id"], "seq": row.get("seq"), "client_ref": row["client_ref"],
            "kind": row["kind"], "asset": row["asset"], "amount": str(row["units"]),
            "fee": str(row.get("fee") or "0"), "from": row["from_addr"], "to": row["to_addr"],
            "tx_hash": row.get("tx_hash"), "log_index": row.get("log_index"),
            "block_number": row.get("block"), "status": row["status"]}


def _fake(rng: random.Random, nbytes: int) -> str:
    return "0x" + rng.randbytes(nbytes).hex()


def transactions(store: Store, config: FaultConfig, rng: random.Random, as_of: int
                 ) -> list[dict[str, Any]]:
    """The confirmed transactions up to ``as_of`` as reported (wrong ones applied)."""
    rows = [tx_json(r) for r in store.txs(statuses=REPORTED) if (r["block"] or 0) <= as_of]
    accounts = {a["client_ref"]: a["address"] for a in store.accounts()}
    for wrong in config.wrong:
        mine = [t for t in rows if t["client_ref"] == wrong.client_ref]
        if wrong.kind == "missing":
            rows = [t for t in rows if t not in mine or t["kind"] != "deposit"]
        elif wrong.kind == "amount":
            for t in mine:
                if t["kind"] == "deposit":
                    t["amount"] = str(int(t["amount"]) + wrong.delta)
        elif wrong.kind == "address":
            for t in mine:
                t["from" if t["kind"] == "deposit" else "to"] = _fake(rng, 20)
        elif wrong.kind == "invented" and wrong.client_ref in accounts:
            rows.append({"id": "dep_" + _fake(rng, 8)[2:], "seq": 10**9 + len(rows),
                         "client_ref": wrong.client_ref, "kind": "deposit", "asset": "USDC",
                         "amount": "5000000", "fee": "0", "from": _fake(rng, 20),
                         "to": accounts[wrong.client_ref], "tx_hash": _fake(rng, 32),
                         "log_index": 0, "block_number": as_of, "status": "confirmed"})
    return rows


def balances(rows: list[dict[str, Any]], accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per sub-account and asset: confirmed deposits - withdrawals - the fees (ETH) paid."""
    total: dict[tuple[str, str], int] = defaultdict(int)
    for t in rows:
        sign = 1 if t["kind"] == "deposit" else -1
        total[(t["client_ref"], t["asset"])] += sign * int(t["amount"])
        total[(t["client_ref"], "ETH")] -= int(t["fee"])
    return [{"client_ref": a["client_ref"], "asset": asset,
             "amount": str(total[(a["client_ref"], asset)])}
            for a in accounts for asset in ASSETS]


def hostile(kind: str, body: dict[str, Any]) -> Any:
    """``body`` made hostile the way ``kind`` says (what a broken or malicious partner sends)."""
    items = body.get("transactions") or body.get("balances") or []
    first = dict(items[0]) if items else {"amount": "1", "tx_hash": "0x" + "11" * 32}
    key = "transactions" if "transactions" in body else "balances"
    if kind == "stuck_pages":  # a cursor that never advances
        return {**body, "next_after": 0} if key == "transactions" else body
    if kind == "negative_amount":
        first["amount"] = "-5"
    elif kind == "huge_amount":
        first["amount"] = "9" * 400
    elif kind == "bad_hash":
        first["tx_hash"] = "0x'; DROP TABLE partners_transactions; --"
    elif kind == "bad_address":
        first["to"] = first["from"] = "0x" + "zz" * 20
    elif kind == "wrong_type":
        first["amount"] = {"$gt": 0}
    elif kind == "extra_field":
        first["credit_client"] = "someone-else"
    elif kind == "huge_list":
        return {**body, key: [first] * 2000}
    return {**body, key: [first, *items[1:]]}
