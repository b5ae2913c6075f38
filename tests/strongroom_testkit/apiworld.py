"""Test world of the API tests: a migrated SQLite database, two clients, their keys and postings.

No chain is needed: every domain's schema is migrated with its own Alembic environment, postings
go through ``keeper.ledger``'s public API and the deployments file is a record written through
:mod:`keeper.deployments`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

import keeper.clients as clients
from keeper.assets import token_addresses
from keeper.config import Settings
from keeper.deployments import Deployment, deployment_path
from keeper.ledger import Kind, Ledger, TransferSpec
from strongroom_testkit.dbtemplate import fresh_url

BIG = 2**53 + 1  # first integer a JSON double cannot hold
VAULT = "0x1111111111111111111111111111111111111111"
CHAIN_ID = 1


@dataclass
class Party:
    """A client, its API key and what was posted to it."""

    client: clients.Client
    key: clients.IssuedKey
    transfer_ids: set[str] = field(default_factory=set)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header of this client's key."""
        return {"Authorization": f"Bearer {self.key.api_key}"}


@dataclass
class World:
    """Two clients with postings, the database URL and the month the postings fell in."""

    url: str
    data_dir: Path
    alice: Party
    bob: Party
    year: int
    month: int

    def settings(self) -> Settings:
        """Settings pointing at this world's database and data folder."""
        return Settings(data_dir=self.data_dir, database_url=self.url, chain_id=CHAIN_ID)

    def deploy(self, record: dict | None = None) -> None:
        """Write the deployments file the API reads: ``record`` as given (any JSON, to test
        refusals), else a Vault at ``VAULT`` holding the registry's tokens."""
        path = deployment_path(self.data_dir / "deployments", CHAIN_ID)
        path.parent.mkdir(parents=True, exist_ok=True)
        if record is None:
            record = Deployment(CHAIN_ID, {"vault": VAULT}, token_addresses()).to_json()
        path.write_text(json.dumps(record))


def build_world(data_dir: Path) -> World:
    """Migrate a fresh SQLite database and fill it with two clients' keys and postings."""
    url = fresh_url(data_dir / 'strongroom.db', migrated=True)
    lg = Ledger(url, group_commit=False)
    try:
        with Session(lg.engine) as s:
            alice_c = clients.create_client(s, lg, "Alice Capital")
            bob_c = clients.create_client(s, lg, "Bob Treasury")
            alice = Party(alice_c, clients.issue_key(s, alice_c.id, label="alice ops"))
            bob = Party(bob_c, clients.issue_key(s, bob_c.id))

        def post(party: Party, tid: str, asset: str, amount: int, kind: Kind = Kind.SINGLE,
                 inbound: bool = True) -> TransferSpec:
            om, mine = lg.omnibus_account(asset, "vault"), lg.client_account(party.client.id, asset)
            spec = TransferSpec(tid, om, mine, amount, kind) if inbound else \
                TransferSpec(tid, mine, om, amount, kind)
            result = lg.post(spec)
            if kind is not Kind.PENDING:
                party.transfer_ids.add(tid)
            return result

        first = post(alice, "a-dep-1", "USDC", BIG)
        post(alice, "a-dep-2", "USDC", 10)
        post(alice, "a-wd-1", "USDC", 4, inbound=False)
        post(alice, "a-hold-1", "USDC", 3, Kind.PENDING, inbound=False)
        post(alice, "a-eth-1", "ETH", 10**21 + 1)
        post(bob, "b-dep-1", "USDC", 5_000_000)
        post(bob, "b-btc-1", "BTC", 123)
    finally:
        lg.close()
    at = first.created_at
    return World(url, data_dir, alice, bob, at.year, at.month)


