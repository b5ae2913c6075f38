"""Deposit instructions: where and how a client sends ETH, USDC or USDT so it is credited.

Deposits are attributed by the bytes32 ``client_ref`` passed to the Vault's ``deposit`` /
``depositEth``; the chain follower maps it to the client through the ledger's registry. So an
instruction is only given when (a) the Vault is deployed on the configured chain (its
:class:`~keeper.deployments.Deployment` record names it), (b) the record configured the asset at
the address the asset registry (:mod:`keeper.assets`, the one home of token addresses) gives it,
and (c) the client's reference is registered in the ledger; otherwise
:class:`DepositsUnavailable` says why (the API answers 503).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from keeper.assets import Asset
from keeper.clients.errors import DepositsUnavailable
from keeper.clients.service import Client
from keeper.deployments import Deployment
from keeper.ledger import Ledger

log = logging.getLogger(__name__)
_WARNING = ("Only deposits made through the vault's deposit functions carry your reference: funds sent "
            "by a plain transfer cannot be attributed to you automatically.")


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


def deposit_instructions(
    ledger: Ledger, client: Client, asset: Asset, deployment: Deployment | None, chain_id: int
) -> DepositInstructions:
    """Instructions for ``client`` to deposit ``asset`` (ETH or an ERC-20 the Vault holds)."""
    if not asset.is_depositable or asset.address is None:
        raise ValueError(f"no on-chain deposit instructions for {asset.symbol}")
    vault = deployment.vault if deployment is not None else None
    if deployment is None or vault is None:
        raise DepositsUnavailable(
            f"deposits are not available yet: the custody contracts are not deployed on chain {chain_id}"
        )
    if deployment.tokens.get(asset.symbol) != asset.address:
        log.error("deployment on chain %s configured %s at %s, the asset registry says %s",
                  chain_id, asset.symbol, deployment.tokens.get(asset.symbol), asset.address)
        raise DepositsUnavailable(
            f"deposits of {asset.symbol} are not available: the vault is not configured for it"
        )
    if ledger.client_id_for_ref(client.client_ref) != client.id:
        log.error("client %s: client_ref not registered in the ledger", client.id)
        raise DepositsUnavailable(
            "deposits are not available for this client yet: its deposit reference is not active"
        )
    if asset.is_native:
        return DepositInstructions(
            asset, chain_id, vault, None, client.client_ref, "depositEth(bytes32)",
            (f"Call depositEth(client_ref) on the vault {vault} with the ETH amount "
             "as the transaction value.", _WARNING),
        )
    token = asset.address
    return DepositInstructions(
        asset, chain_id, vault, token, client.client_ref,
        "deposit(address,uint256,bytes32)",
        (f"Approve the vault {vault} to spend the amount on the {asset.symbol} "
         f"token {token}.",
         f"Call deposit({token}, amount, client_ref) on the vault; amount in base units "
         f"({asset.decimals} decimals).", _WARNING),
    )
