"""Wire shapes of the issuer's records (API replies and webhook events), built from DB rows."""

from __future__ import annotations

from typing import Any

from keeper.integrations.issuer.amounts import to_amount


def mint_json(row: dict[str, Any]) -> dict[str, Any]:
    """A mint as ``GET /v1/mints/{id}`` shows it."""
    return {"mint_id": row["id"], "status": row["status"], "amount": to_amount(int(row["units"])),
            "currency": "USD", "destination_address": row["destination"], "reference": row["reference"],
            "estimated_completion": row["estimated_completion"],
            "blockchain_tx_id": row["tx_hash"], "confirmations": row["confirmations"],
            "reason": row["reason"]}


def burn_json(row: dict[str, Any]) -> dict[str, Any]:
    """A burn as ``GET /v1/burns/{id}`` shows it."""
    return {"burn_id": row["id"], "status": row["status"], "amount": to_amount(int(row["units"])),
            "currency": "USD", "source_address": row["source"], "transfer_tx_id": row["transfer_tx_id"],
            "reference": row["reference"], "blockchain_tx_id": row["tx_hash"],
            "confirmations": row["confirmations"], "payout_status": row["payout_status"],
            "reason": row["reason"]}


def event_for(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The webhook event announcing ``row``'s status (one event id per record and status)."""
    kind = table[:-1]
    data = mint_json(row) if table == "mints" else burn_json(row)
    return {"event_id": f"{kind}:{row['id']}:{row['status']}", "type": f"{kind}.{row['status']}",
            "data": data}
