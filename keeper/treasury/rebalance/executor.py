"""Carrying rebalancing moves out on Ethereum (a :class:`~keeper.treasury.moves.MoveExecutor`).

Built on the tiers' parts (``keeper.treasury.tiers``), for ETH, USDC and USDT:

* **out of hot** (hot -> warm, hot -> cold): the Vault's ``sweep(token, units, tier)`` to the
  governance-set tier address, sent by the HSM hot key (TREASURY role) through the chain sender
  (:class:`~keeper.chain.TxSender`) under the move's idempotency key as the send intent: a
  second call re-broadcasts the same transaction, never sends another. The sender simulates
  first: a sweep the vault would refuse (budget, limit, pause, whitelist) raises
  :class:`~keeper.chain.WouldRevertError` and nothing is stored;
* **out of warm or cold**: SafeTx proposals of that Multisig for its owners to sign
  (:class:`~keeper.treasury.tiers.ProposalPlanner`): to the other multisig a transfer
  (``warm_to_cold``'s SafeTx, addressed to the destination), to hot a deposit into the vault
  (``cold_to_hot``'s approve + deposit). The keeper never moves funds out of a multisig alone;
  the reference is the last SafeTx hash. (The tiers' book files these rows under its ``weekly``
  and ``topup`` kinds; their keys start ``rebalance:`` and their reason is ``rebalance``.)

Bitcoin moves (PSBTs of the BTC coordinator) are not carried here: :func:`carried` says so, the
rebalancer plans only carried routes (its ``routes``), and :meth:`ChainMoveExecutor.execute`
refuses anything else with :class:`UnsupportedMoveError`.
"""

from __future__ import annotations

from collections.abc import Mapping

from eth_utils import to_checksum_address

from keeper.assets import DEPOSITABLE
from keeper.chain import TxSender
from keeper.treasury.moves import TIERS, Move, Tier
from keeper.treasury.tiers import ProposalPlanner, sweep_data

ROUTES: frozenset[tuple[Tier, Tier]] = frozenset(
    (a, b) for a in TIERS for b in TIERS if a != b)


def carried(asset: str, source: Tier, destination: Tier) -> bool:
    """Whether :class:`ChainMoveExecutor` carries a move of ``asset`` from ``source`` to
    ``destination`` tier (the rebalancer's ``routes`` filter, dry runs included)."""
    return asset in DEPOSITABLE and (source, destination) in ROUTES


class UnsupportedMoveError(ValueError):
    """A move this executor cannot carry out (its route or asset); nothing was done."""


class ChainMoveExecutor:
    """EVM tier moves of ``vault`` (see the module docstring). ``addresses`` maps the tier
    view's wallet names (``warm_multisig``, ``cold_multisig``) to their addresses."""

    def __init__(self, sender: TxSender, vault: str, proposals: ProposalPlanner,
                 addresses: Mapping[str, str]) -> None:
        self.sender, self.proposals = sender, proposals
        self.vault = to_checksum_address(vault)
        self.addresses = {k: to_checksum_address(v) for k, v in addresses.items()}

    def supports(self, asset: str, source: Tier, destination: Tier) -> bool:
        """Whether a move of ``asset`` from ``source`` to ``destination`` tier is carried."""
        return carried(asset, source, destination)

    def execute(self, move: Move, *, idempotency_key: str) -> str:
        """Sweep or propose ``move`` once per ``idempotency_key``; returns the transaction hash
        (sweep) or the last SafeTx hash (proposal)."""
        if not self.supports(move.asset, move.source_tier, move.destination_tier):
            raise UnsupportedMoveError(f"{move.asset} {move.source_tier} -> "
                                       f"{move.destination_tier} is not carried on chain here")
        if move.source_tier == "hot":
            data = sweep_data(move.asset, move.units, move.destination_tier)
            return self.sender.send(idempotency_key, self.vault, data).hashes[-1]
        safe = self._address(move.source)
        if move.destination_tier == "hot":  # approve + deposit into the vault
            planned = self.proposals.cold_to_hot(idempotency_key, move, safe, self.vault)
        else:  # a transfer to the other multisig
            planned = self.proposals.warm_to_cold(idempotency_key, move, safe,
                                                  self._address(move.destination))
        return planned.hashes[-1]

    def _address(self, wallet: str) -> str:
        if wallet not in self.addresses:
            raise UnsupportedMoveError(f"no address for wallet {wallet!r}")
        return self.addresses[wallet]
