"""The daily hot -> cold sweep: the vault's excess over its hot target goes to the cold Multisig.

What is swept (:func:`hot_excess`): per asset, when the vault's share of the asset is above its
target plus band, the vault comes down to ``max(target, the vault's minimum float)`` (hysteresis:
it triggers at the band's edge and restores the target, so it does not fire again at once).

How (:class:`HotSweeper`): ``Vault.sweep(token, amount, TIER_COLD)``, sent by keeper.chain's
:class:`~keeper.chain.TxSender` from the keeper's HSM key under the intent
``treasury-sweep:<vault>:<day>:<asset>``. The amount is fixed in the sweep book first
(:class:`~keeper.treasury.tiers.book.SweepBook`, key ``daily:<day>:<asset>``); a restart finds
the row and finishes that sweep (the sender's intent is idempotent), so a crash then restart
never sweeps twice. Before anything is stored with the sender the call is simulated
(``eth_call`` from the key): a refusal (token paused, cold sweep budget exhausted, vault
migrated, key without the role) is recorded ``refused`` with keeper.chain's stable reason code,
alerted once (``treasury_sweep_refused``) and sends nothing; a sent sweep that reverts once
mined (or is dropped) is marked ``failed`` at the next run and alerted the same way. In dry-run
mode the plan is recorded and audited and nothing is sent. The chain follower mirrors the
``Sweep`` event (vault omnibus -> ``tier2:<cold>`` omnibus) and type 1 reconciliation checks
both against the chain.

Who may call ``Vault.sweep`` (least privilege). TREASURY (the warm 2-of-3 Multisig only) is
more than a sweep right: it also allows ``withdraw`` to any active whitelisted address within the
USD limit and sweeps to the warm tier. The keeper's key holds SWEEPER instead (``VaultRole.SWEEPER``,
granted with CUSTOMER to the operator key, ``eth-hot`` under ``make run``, by
``scripts/deployments.py`` at deploy): it can ONLY call ``sweep(token, amount, TIER_COLD)``, whose
destination is the governance-set cold 3-of-5 Multisig (also whitelisted), bounded by the vault's
separate cold sweep budget and allowed while paused. The worst a stolen key can do with SWEEPER
is move hot funds into cold custody (a liquidity nuisance the cold owners undo with a top-up),
never pay anyone and never sweep to warm. A key without SWEEPER (revoked by governance, or a
vault deployed before the role existed) is refused by the simulation (``Vault: not sweeper``),
the refusal is recorded and alerted, and the warm owners can still sweep by proposal
(:mod:`keeper.treasury.tiers.proposals`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from keeper.assets import DEPOSITABLE
from keeper.chain import TxSender, WouldRevertError, reason_code
from keeper.chain.revert import call_revert_reason
from keeper.chain.sender import DROPPED, REVERTED
from keeper.treasury.moves import BPS, Move, Tier
from keeper.treasury.tiers.book import AlertFn, Planned, SweepBook
from keeper.treasury.tiers.models import SweepStatus
from keeper.treasury.tiers.policy import AssetPolicy, TierPolicy
from keeper.treasury.tiers.view import EVM_WALLETS, TIER_NUMBER, AssetTiers, TierView

SWEEP = function_signature_to_4byte_selector("sweep(address,uint256,uint8)")
BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")
PRICING = function_signature_to_4byte_selector("pricing(address)")
COLD_LIMIT = function_signature_to_4byte_selector("cold_sweep_limit_usd()")
COLD_SWEPT = function_signature_to_4byte_selector("coldSweptUsd()")
REFUSED_ALERT = "treasury_sweep_refused"
DAILY = "daily"


def excess(pol: AssetPolicy, at: AssetTiers, tier: Tier) -> int:
    """Units of ``tier`` above its target once its share exceeds target + band, never taking
    the wallet below its minimum (0 when within the band)."""
    total, held = at.total_units, at.units[tier]
    target = pol.targets_bps.of(tier)
    if total == 0 or held * BPS <= total * (target + pol.band_bps):
        return 0
    keep = max(total * target // BPS, pol.minimum_units.of(tier))
    return max(0, held - keep)


def hot_excess(pol: AssetPolicy, at: AssetTiers) -> int:
    """What the daily sweep takes out of the vault for one asset (see :func:`excess`)."""
    return excess(pol, at, "hot")


def daily_moves(view: TierView, policy: TierPolicy) -> list[Move]:
    """The day's hot -> cold moves of the vault's assets (ETH and ERC-20s), by asset."""
    out = []
    for symbol, at in sorted(view.assets.items()):
        if symbol not in DEPOSITABLE:
            continue
        units = hot_excess(policy.asset(symbol), at)
        if units:
            out.append(Move(symbol, EVM_WALLETS["hot"], "hot", EVM_WALLETS["cold"], "cold", units,
                            f"hot share {at.share_bps['hot']} bps > target "
                            f"{policy.asset(symbol).targets_bps.hot} + band {at.band_bps}"))
    return out


@dataclass(frozen=True)
class SweepOutcome:
    """What one planned sweep became (``status``: a :class:`SweepStatus` value)."""

    key: str
    asset: str
    units: int
    status: str
    tx_hashes: tuple[str, ...] = ()
    code: str | None = None
    reason: str | None = None


def sweep_data(asset: str, units: int, tier: Tier = "cold") -> bytes:
    """Calldata of ``Vault.sweep(token, units, tier)``."""
    token = DEPOSITABLE[asset].address
    assert token is not None
    return SWEEP + abi_encode(["address", "uint256", "uint8"],
                              [to_checksum_address(token), units, TIER_NUMBER[tier]])


class HotSweeper:
    """Daily hot -> cold sweeps of ``vault`` sent by ``sender`` (see the module docstring)."""

    def __init__(self, book: SweepBook, sender: TxSender, vault: str, *, alert: AlertFn,
                 dry_run: bool = False) -> None:
        self.book, self.sender, self.w3 = book, sender, sender.w3
        self.vault = to_checksum_address(vault)
        self.alert, self.dry_run = alert, dry_run

    def key(self, day: date, asset: str) -> str:
        """The sweep book key of ``asset``'s sweep on ``day``."""
        return f"{DAILY}:{day.isoformat()}:{asset}"

    def intent_id(self, day: date, asset: str) -> str:
        """The sender intent of ``asset``'s sweep on ``day`` (one per day and asset)."""
        return f"treasury-sweep:{self.vault}:{day.isoformat()}:{asset}"

    def run(self, view: TierView, policy: TierPolicy, day: date) -> list[SweepOutcome]:
        """Plan the day's sweeps from ``view``, then send (or, in dry run, only record) each;
        a sweep already planned for ``day`` is finished with its recorded amount.

        A new plan is fitted first (:meth:`_fit`): never more than the vault holds now above
        what the view said it keeps (a withdrawal since the view's block is not swept away), and
        never more than the cold sweep budget still allows (the part that fits is swept rather
        than nothing; with no budget left the sweep is attempted, refused and alerted)."""
        self.settle()
        planned = {m.asset: m for m in daily_moves(view, policy)}
        resumed: set[str] = set()
        for asset in sorted(DEPOSITABLE):  # sweeps of ``day`` already under way finish too
            row = self.book.get(self.key(day, asset))
            if row is not None and row.status in (SweepStatus.PLANNED, SweepStatus.SENT):
                resumed.add(asset)
                planned[asset] = Move(asset, row.source, "hot", row.destination, "cold",
                                      row.units, "resumed")
        budget = self._cold_budget_left() if planned else 0
        out = []
        for asset, move in sorted(planned.items()):
            if asset not in resumed:
                fitted, budget = self._fit(move, view.units(asset, "hot"), budget)
                if fitted is None:
                    continue
                move = fitted
            out.append(self._one(day, move))
        return out

    def _fit(self, move: Move, view_hot: int, budget: int) -> tuple[Move | None, int]:
        """``move`` capped by the vault's balance now and the cold budget (micro-USD left),
        and the budget left after it; None when the vault no longer holds anything to sweep."""
        token = DEPOSITABLE[move.asset].address
        assert token is not None
        keep = view_hot - move.units
        units = min(move.units, self._vault_balance(token) - keep)
        if units <= 0:
            return None, budget
        decimals, price = self._pricing(token)
        if budget > 0 and price > 0:
            fits = budget * 10**decimals // price
            if 0 < fits < units:
                units = fits
                move = replace(move, reason=move.reason + "; capped by the cold sweep budget")
            budget -= min(budget, -(-units * price // 10**decimals))
        return replace(move, units=units), budget

    def _vault_balance(self, token: str) -> int:
        if int(token, 16) == 0:
            return int(self.w3.eth.get_balance(self.vault, "pending"))
        data = BALANCE_OF + abi_encode(["address"], [self.vault])
        raw = self.w3.eth.call({"to": to_checksum_address(token), "data": "0x" + data.hex()},
                               "pending")
        return int.from_bytes(bytes(raw)[:32], "big")

    def _pricing(self, token: str) -> tuple[int, int]:
        data = PRICING + abi_encode(["address"], [to_checksum_address(token)])
        raw = bytes(self.w3.eth.call({"to": self.vault, "data": "0x" + data.hex()}, "pending"))
        decimals, _, _, price = abi_decode(["uint256"] * 4, raw)
        return int(decimals), int(price)

    def _cold_budget_left(self) -> int:
        """Micro-USD of the cold sweep budget still available in the rolling 24 h."""
        words = [int.from_bytes(bytes(self.w3.eth.call(
            {"to": self.vault, "data": "0x" + sel.hex()}, "pending"))[:32], "big")
            for sel in (COLD_LIMIT, COLD_SWEPT)]
        return max(0, words[0] - words[1])

    def _one(self, day: date, move: Move) -> SweepOutcome:
        key, intent = self.key(day, move.asset), self.intent_id(day, move.asset)
        status = SweepStatus.DRY_RUN if self.dry_run else SweepStatus.PLANNED
        row = self.book.plan(key, DAILY, move, status)
        if row.status == SweepStatus.DRY_RUN:
            return self._outcome(row)
        data = sweep_data(row.asset, row.units)
        if self.sender.status(intent) is None:
            call = {"from": self.sender.address, "to": self.vault, "data": "0x" + data.hex()}
            reason = call_revert_reason(self.w3, call, "pending")
            if reason is not None:
                return self._refused(row, reason)
        try:
            sent = self.sender.send(intent, self.vault, data)
        except WouldRevertError as exc:
            return self._refused(row, exc.reason)
        if row.status == SweepStatus.SENT:  # finished before: the send only re-broadcast
            return self._outcome(row, sent.hashes)
        row = self.book.mark(key, SweepStatus.SENT, intent_id=intent, reference=sent.hashes[-1])
        return self._outcome(row, sent.hashes)

    def settle(self) -> list[SweepOutcome]:
        """Sent sweeps whose transaction reverted once mined, or was dropped, become
        ``failed`` (final for their day) and are alerted once; returns them."""
        out = []
        for row in self.book.rows(DAILY):
            if row.status != SweepStatus.SENT or row.intent_id is None:
                continue
            sent = self.sender.status(row.intent_id)
            if sent is None or sent.state not in (REVERTED, DROPPED):
                continue
            reason = sent.revert_reason or ("dropped: the key's nonce was used by another "
                                            "transaction" if sent.state == DROPPED else "")
            code = reason_code(reason) if sent.state == REVERTED else "dropped"
            failed = self.book.mark(row.key, SweepStatus.FAILED, code=code, reason=reason)
            why = reason or "no reason given"
            self.alert(REFUSED_ALERT, f"treasury sweep {row.key} of {row.units} {row.asset} "
                       f"base units to cold {sent.state} on chain: {code} ({why}); nothing "
                       "moved", f"{REFUSED_ALERT}:{row.key}")
            out.append(self._outcome(failed, sent.hashes))
        return out

    def _refused(self, row: Planned, reason: str) -> SweepOutcome:
        code = reason_code(reason)
        row = self.book.mark(row.key, SweepStatus.REFUSED, code=code, reason=reason)
        self.alert(REFUSED_ALERT, f"treasury sweep {row.key} of {row.units} {row.asset} base "
                   f"units to cold refused: {code} ({reason or 'no reason given'}); nothing sent",
                   f"{REFUSED_ALERT}:{row.key}")
        return self._outcome(row)

    def status(self, day: date, asset: str) -> SweepOutcome | None:
        """The recorded outcome of ``asset``'s sweep on ``day`` (the sender's hashes if sent)."""
        row = self.book.get(self.key(day, asset))
        if row is None:
            return None
        sent = self.sender.status(self.intent_id(day, asset))
        return self._outcome(row, sent.hashes if sent else ())

    @staticmethod
    def _outcome(row: Planned, hashes: tuple[str, ...] = ()) -> SweepOutcome:
        return SweepOutcome(row.key, row.asset, row.units, row.status, tuple(hashes), row.code,
                            row.reason)
