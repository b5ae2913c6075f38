"""Deposit instructions: where and how a client sends ETH, USDC or USDT so it is credited.

Deposits are attributed by the bytes32 ``client_ref`` passed to the Vault's ``deposit`` /
``depositEth``; the chain follower maps it to the client through the ledger's registry. So an
instruction is only given when (a) the Vault is deployed on the configured chain (its address is in
``<deployments_dir>/<chain_id>.json``) and (b) the client's reference is registered in the ledger;
otherwise :class:`DepositsUnavailable` says why (the API answers 503).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keeper.assets import ETH_ADDRESS, Asset
from keeper.clients.errors import DepositsUnavailable
from keeper.clients.service import Client
from keeper.ledger import Ledger

log = logging.getLogger(__name__)
_HEX_ADDRESS_LEN = 42
_WARNING = ("Only deposits made through the vault's deposit functions carry your reference: funds sent "
            "by a plain transfer cannot be attributed to you automatically.")


@dataclass(frozen=True, slots=True)
class Deployment:
    """The parts of a deployments file deposit instructions need."""

    chain_id: int
    vault: str
    tokens: dict[str, str]


@dataclass(frozen=True, slots=True)
class DepositInstructions:
    """How to deposit ``asset``: the call to make on ``vault`` with the client's reference."""

    asset: Asset
    chain_id: int
    vault_address: str
    token_address: str | None
    client_ref: str
    method: str
    steps: tuple[str, ...]


def _is_address(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != _HEX_ADDRESS_LEN or not value.startswith("0x"):
        return False
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


def read_deployment(deployments_dir: Path, chain_id: int) -> Deployment | None:
    """The deployment recorded in ``deployments_dir/<chain_id>.json``; None if absent or unusable."""
    path = deployments_dir / f"{chain_id}.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error("deployments file %s unreadable: %s", path, exc)
        return None
    vault = (record.get("addresses") or {}).get("vault") if isinstance(record, dict) else None
    if not _is_address(vault):
        log.error("deployments file %s names no valid vault address", path)
        return None
    tokens = record.get("tokens") or {}
    tokens = {str(k).upper(): v for k, v in tokens.items() if _is_address(v)}
    return Deployment(chain_id, vault, tokens)


def deposit_instructions(
    ledger: Ledger, client: Client, asset: Asset, deployment: Deployment | None, chain_id: int
) -> DepositInstructions:
    """Instructions for ``client`` to deposit ``asset`` (ETH or an ERC-20 the Vault holds)."""
    if asset.chain != "ethereum" or asset.address is None:
        raise ValueError(f"no on-chain deposit instructions for {asset.symbol}")
    if deployment is None:
        raise DepositsUnavailable(
            f"deposits are not available yet: the custody contracts are not deployed on chain {chain_id}"
        )
    if ledger.client_id_for_ref(client.client_ref) != client.id:
        log.error("client %s: client_ref not registered in the ledger", client.id)
        raise DepositsUnavailable(
            "deposits are not available for this client yet: its deposit reference is not active"
        )
    if asset.address == ETH_ADDRESS:
        return DepositInstructions(
            asset, chain_id, deployment.vault, None, client.client_ref, "depositEth(bytes32)",
            (f"Call depositEth(client_ref) on the vault {deployment.vault} with the ETH amount "
             "as the transaction value.", _WARNING),
        )
    token = deployment.tokens.get(asset.symbol, asset.address)
    return DepositInstructions(
        asset, chain_id, deployment.vault, token, client.client_ref,
        "deposit(address,uint256,bytes32)",
        (f"Approve the vault {deployment.vault} to spend the amount on the {asset.symbol} "
         f"token {token}.",
         f"Call deposit({token}, amount, client_ref) on the vault; amount in base units "
         f"({asset.decimals} decimals).", _WARNING),
    )
