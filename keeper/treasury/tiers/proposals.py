"""Moves only a multisig's owners may make: the weekly warm -> cold sweep and cold -> hot
top-ups, planned by the keeper as SafeTxs its owners sign through the signer service.

The keeper holds no key of either Multisig and is not an owner, so it cannot propose into the
signer service itself (a proposal must carry an owner's signature). It plans instead: the
SafeTx(s) of the move (fields, nonce, EIP-712 hash) are fixed in the sweep book under the move's
key (``weekly:<ISO week>:<asset>``, ``topup:<ref>:<asset>``) with status ``proposed`` and
audited; an owner's Safe tooling posts exactly that SafeTx to the signer service
(:class:`keeper.safetx.SafeTxService`, which recomputes and checks the hash), the others confirm,
and the service's executor executes it once the threshold is reached. A second plan of the same
key returns the recorded SafeTx: never a second proposal for one move.

* warm -> cold: an ERC-20 ``transfer(cold, units)`` or a plain ETH value transfer to the cold
  Multisig (:func:`weekly_moves`: the warm share above target + band, down to
  ``max(target, the warm minimum)``);
* cold -> hot: the vault's own deposit functions (``depositEth`` / ``approve`` then ``deposit``)
  with the client reference :data:`TOPUP_CLIENT_REF`, so the vault records where the funds came
  from.

Nonces: the Safe's on-chain nonce, or the next one after the SafeTxs this book already planned
for the same Safe, and after the proposals pending in the signer service (when given), that are
still at or above it: a plan never competes with the owners' own business for a nonce.
While a planned move of an asset is still open on its Safe (its nonce not yet used), a new
plan for that asset and Safe returns it instead of stacking a second move on a view that does
not yet show the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from keeper.assets import DEPOSITABLE, ZERO_ADDRESS
from keeper.chain import TOPUP_CLIENT_REF, erc20_approve, erc20_transfer, vault_deposit, vault_deposit_eth
from keeper.keys import SafeTx, safe_tx_hash
from keeper.safetx import SafeTxService, UnknownSafe
from keeper.treasury.moves import Move
from keeper.treasury.tiers.book import Planned, SweepBook
from keeper.treasury.tiers.models import SweepStatus
from keeper.treasury.tiers.policy import TierPolicy
from keeper.treasury.tiers.sweeps import excess
from keeper.treasury.tiers.view import EVM_WALLETS, TierView

NONCE = function_signature_to_4byte_selector("nonce()")
WEEKLY, TOPUP = "weekly", "topup"


@dataclass(frozen=True)
class PlannedProposal:
    """A move planned as SafeTx(s) of ``safe`` (consecutive nonces) for its owners to sign."""

    key: str
    safe: str
    chain_id: int
    txs: tuple[SafeTx, ...]
    hashes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """What an owner's tooling needs to post each SafeTx (Safe service field names)."""
        return {"safe": self.safe, "chainId": self.chain_id, "key": self.key,
                "transactions": [_tx_json(tx, h) for tx, h in zip(self.txs, self.hashes,
                                                                   strict=True)]}


def _tx_json(tx: SafeTx, digest: str) -> dict[str, Any]:
    return {"to": tx.to, "value": str(tx.value), "data": "0x" + tx.data.hex(),
            "operation": tx.operation, "safeTxGas": str(tx.safe_tx_gas),
            "baseGas": str(tx.base_gas), "gasPrice": str(tx.gas_price), "gasToken": tx.gas_token,
            "refundReceiver": tx.refund_receiver, "nonce": tx.nonce,
            "contractTransactionHash": digest}


def _tx(to: str, value: int, data: bytes, nonce: int) -> SafeTx:
    return SafeTx(to_checksum_address(to), value, data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS,
                  nonce)


def weekly_moves(view: TierView, policy: TierPolicy) -> list[Move]:
    """The week's warm -> cold moves of the on-chain assets (warm above target + band)."""
    out = []
    for symbol, at in sorted(view.assets.items()):
        if symbol not in DEPOSITABLE:
            continue
        units = excess(policy.asset(symbol), at, "warm")
        if units:
            out.append(Move(symbol, EVM_WALLETS["warm"], "warm", EVM_WALLETS["cold"], "cold",
                            units, f"warm share {at.share_bps['warm']} bps > target "
                            f"{policy.asset(symbol).targets_bps.warm} + band {at.band_bps}"))
    return out


class ProposalPlanner:
    """Plans multisig moves on chain ``chain_id`` read through ``w3`` (see the module doc)."""

    def __init__(self, book: SweepBook, w3: Any, chain_id: int, *,
                 service: SafeTxService | None = None) -> None:
        self.book, self.w3, self.chain_id = book, w3, chain_id
        self.service = service  # the signer service: its pending proposals hold nonces too

    def warm_to_cold(self, key: str, move: Move, warm: str, cold: str, *,
                     dry_run: bool = False) -> PlannedProposal:
        """Plan ``move`` (warm -> cold) as a transfer SafeTx of the warm Multisig ``warm``."""
        token = DEPOSITABLE[move.asset].address
        assert token is not None
        def build(nonce: int) -> list[SafeTx]:
            if int(token, 16) == 0:
                return [_tx(cold, move.units, b"", nonce)]
            return [_tx(token, 0, erc20_transfer(to_checksum_address(cold), move.units), nonce)]
        return self._plan(key, WEEKLY, move, warm, build, dry_run)

    def cold_to_hot(self, key: str, move: Move, cold: str, vault: str, *,
                    dry_run: bool = False) -> PlannedProposal:
        """Plan a top-up (cold -> vault) as SafeTx(s) of the cold Multisig ``cold``: the only
        way funds come back to hot, and only with the cold owners' quorum."""
        token = DEPOSITABLE[move.asset].address
        assert token is not None
        ref = TOPUP_CLIENT_REF

        def build(nonce: int) -> list[SafeTx]:
            if int(token, 16) == 0:
                return [_tx(vault, move.units, vault_deposit_eth(ref), nonce)]
            approve = erc20_approve(to_checksum_address(vault), move.units)
            deposit = vault_deposit(to_checksum_address(token), move.units, ref)
            return [_tx(token, 0, approve, nonce), _tx(vault, 0, deposit, nonce + 1)]
        return self._plan(key, TOPUP, move, cold, build, dry_run)

    def _plan(self, key: str, kind: str, move: Move, safe: str, build: Any,
              dry_run: bool) -> PlannedProposal:
        existing = self.book.get(key)
        if existing is not None and existing.status == SweepStatus.PROPOSED:
            return _from_row(existing)
        safe = to_checksum_address(safe)
        onchain = self._safe_nonce(safe)
        for row in self.book.rows(kind):  # one open proposal per asset and Safe at a time
            if (row.status == SweepStatus.PROPOSED and row.asset == move.asset and row.payload
                    and row.payload["safe"] == safe and _last_nonce(row) >= onchain):
                return _from_row(row)
        txs = build(self._next_nonce(safe, onchain))
        hashes = tuple("0x" + safe_tx_hash(self.chain_id, safe, tx).hex() for tx in txs)
        plan = PlannedProposal(key, safe, self.chain_id, tuple(txs), hashes)
        status = SweepStatus.DRY_RUN if dry_run else SweepStatus.PROPOSED
        row = self.book.plan(key, kind, move, status, payload=plan.to_json())
        if row.status == SweepStatus.PROPOSED and row.reference is None:
            row = self.book.mark(key, SweepStatus.PROPOSED, reference=hashes[-1])
        return _from_row(row)

    def _safe_nonce(self, safe: str) -> int:
        raw = self.w3.eth.call({"to": safe, "data": "0x" + NONCE.hex()})
        return int.from_bytes(bytes(raw)[:32], "big")

    def _next_nonce(self, safe: str, nonce: int) -> int:
        for row in self.book.rows():
            if row.status == SweepStatus.PROPOSED and row.payload and row.payload["safe"] == safe:
                nonce = max(nonce, _last_nonce(row) + 1)
        if self.service is not None:
            try:
                _, pending, _ = self.service.list(safe, executed=False, nonce_gte=nonce,
                                                  ordering="-nonce", limit=1)
            except UnknownSafe:
                pending = []
            if pending:
                nonce = max(nonce, pending[0].tx.nonce + 1)
        return nonce


def _last_nonce(row: Planned) -> int:
    return max(int(tx["nonce"]) for tx in (row.payload or {}).get("transactions", [{"nonce": -1}]))


def _from_row(row: Planned) -> PlannedProposal:
    p = row.payload or {}
    txs = tuple(SafeTx(t["to"], int(t["value"]), bytes.fromhex(t["data"][2:]), t["operation"],
                       int(t["safeTxGas"]), int(t["baseGas"]), int(t["gasPrice"]), t["gasToken"],
                       t["refundReceiver"], t["nonce"]) for t in p.get("transactions", []))
    return PlannedProposal(row.key, p.get("safe", ""), p.get("chainId", 0), txs,
                           tuple(t["contractTransactionHash"] for t in p.get("transactions", [])))
