"""`make run`'s trading desk demo: an OPS key buys 0.1 BTC for a client through the API, routed
over the three local venues under the jurisdiction rules; prints where to read the execution,
its best-execution report and the client's tax lots (the key goes to a 0600 file only). The
client is a real one with a US KYC record: the desk takes the jurisdiction from it."""

from __future__ import annotations

from typing import Any

DEMO_ORDER = {"id": "demo-desk-1", "symbol": "BTC/USD", "side": "buy", "amount": "10000000",
              "jurisdiction": "US", "client_type": "institutional"}  # + the demo client's id
KYC_DAYS = 365


def demo_trading(summary: dict[str, Any], api_url: str) -> list[str]:
    """Submit the demo parent order through ``POST /v1/trading/orders``; lines to print."""
    from datetime import UTC, datetime, timedelta

    import httpx

    from keeper import clients
    from keeper.ledger import Ledger
    from scripts.stack import _secret, new_client, run_dir

    settings = summary["settings"]
    ledger = Ledger(settings.database_url, group_commit=False)
    try:
        _, key = new_client(ledger, "Trading desk", (clients.OPS,), "make run trading desk")
        kyc_until = (datetime.now(UTC) + timedelta(days=KYC_DAYS)).date()
        client, _ = new_client(ledger, "Desk demo client", (clients.CLIENT_READ,),
                               "make run desk demo client", country="US",
                               kyc_valid_until=kyc_until)
    finally:
        ledger.close()
    key_file = _secret(run_dir(settings), "trading-desk-api-key", key)
    headers = {"Authorization": f"Bearer {key}"}
    order_in = {**DEMO_ORDER, "client_id": client.id}
    r = httpx.post(f"{api_url}/v1/trading/orders", json=order_in, headers=headers, timeout=60)
    if r.status_code != 201:
        return [f"trading desk order refused: HTTP {r.status_code} {r.text[:300]}"]
    order = r.json()
    venues = sorted({f["venue"] for f in order.get("fills", [])})
    base = f"{api_url}/v1/trading"
    lots = httpx.get(f"{base}/clients/{client.id}/taxlots", headers=headers,
                     timeout=30)
    return [f"buy 0.1 BTC for a US institutional client: order {order['id']} {order['status']} "
            f"over {', '.join(venues) or 'no venue'} (filled {order['filled']} sat)",
            f"best execution: GET {base}/orders/{order['id']}/report (?format=pdf)",
            f"tax lots: GET {base}/clients/{client.id}/taxlots -> HTTP "
            f"{lots.status_code}",
            f"trading desk API key (scope ops): {key_file}"]
