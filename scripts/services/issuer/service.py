"""Assembly of the issuer service: store + chain + faults -> FastAPI app with its worker."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from scripts.services.common.web import run_with
from scripts.services.issuer.app import create_app
from scripts.services.issuer.chain import IssuerChain
from scripts.services.issuer.faults import Faults
from scripts.services.issuer.store import Store
from scripts.services.issuer.worker import Worker


def build(db: Path, chain: IssuerChain, faults: Faults, *, api_key: str, admin_token: str,
          confirmations: int, webhook_url: str | None, webhook_secret: bytes | None,
          webhook_backoff_s: float = 1.0) -> FastAPI:
    """The app, its worker started and stopped with it.

    On the first start the token's current totalSupply is recorded as the opening reserves
    (the issuer starts fully backed); later starts keep that figure.
    """
    store = Store(db)
    store.set_meta_once("opening_supply", str(chain.total_supply()))
    worker = Worker(store, chain, confirmations=confirmations, webhook_url=webhook_url,
                    webhook_secret=webhook_secret, webhook_backoff_s=webhook_backoff_s)
    app = create_app(store, chain, faults, api_key=api_key, admin_token=admin_token,
                     confirmations=confirmations)
    return run_with(app, worker)
