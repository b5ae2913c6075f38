"""Carrying a pooling plan out on chain: exactly once per (run, kind, wallet, asset).

:meth:`PoolRunner.start` writes the run and every planned transaction (amount fixed, intent id
``pool:<run>:<kind>:<wallet>:<asset>``) and its audit record in ONE database transaction, before
anything is signed; a second ``start`` of the same run changes nothing (the plan is never
recomputed, so a restart cannot send a different amount). :meth:`PoolRunner.advance` then moves
the run on as far as the chain allows, and is safe to call again at any time (a job tick):

1. it ticks the chain senders of the transactions already sent and records which are mined or
   failed (reverted / dropped, with the reason);
2. it sends the gas top-ups from the funding key (an HSM key of the keyring);
3. once a wallet's top-up is mined, it sends the wallet's token transfers, signed by the
   wallet's own key (:class:`~keeper.treasury.pooling.keys.DepositKeys`, in memory only);
4. once those are final, it fixes the wallet's ETH amount from its balance (all above the
   minimum but this transfer's gas at the cap; never less than planned) and sends it.

A transaction is simulated (``eth_call``) before its first send; one that would revert (a
blacklisted address, a paused token) fails its row with the reason and is never sent. Every send
goes through :class:`keeper.chain.TxSender` under the row's intent id: the sender
stores the signed bytes with a database-allocated nonce before broadcasting, and a repeated
intent returns the stored one, so a crash between a send and this module's bookkeeping resends
nothing new. Fees are capped at the run's ``max_fee_wei`` (the planner reserved every gas limit
at that cap, so the wallet's minimum holds whatever the chain charges).

The destination is a named operational address (an EOA or a multisig; give
``PoolCosts.native_gas`` room for a contract's receive), or the Vault (``plan_pool(vault=True)``):
an ``approve`` of exactly the amount, then ``deposit(token, amount, POOL_REF)``; ETH through
``depositEth(POOL_REF)``. Ledger: to an address, nothing is booked (the follower watches only
vaults). Into the Vault, the follower books a deposit by its ``client_ref``: :data:`POOL_REF` is
the bank's reserved pooling reference, registered (:func:`register_pool_ref`) to the bank's own
owner :data:`POOL_OWNER`, never a client's reference, so no client is credited by a pooling
deposit (a client credited when the coins reached its deposit address is not credited again).
``dry_run`` (``settings.treasury_dry_run``): the run is planned, recorded and audited; nothing is
sent.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from sqlalchemy import Connection, Engine, insert, select, text, update

from keeper.assets import by_symbol
from keeper.audit import AuditRecord, append
from keeper.chain import (
    IntentConflictError,
    SenderConfig,
    TxSender,
    erc20_approve,
    erc20_transfer,
    vault_deposit,
    vault_deposit_eth,
)
from keeper.chain.revert import call_revert_reason
from keeper.chain.sender import DROPPED, MINED, REVERTED
from keeper.keys import Keyring
from keeper.ledger.db import WRITE
from keeper.treasury.moves import Holding, Tier
from keeper.treasury.pooling.keys import DepositKeys
from keeper.treasury.pooling.models import PoolRun, PoolTx
from keeper.treasury.pooling.plan import (
    ACTOR,
    APPROVE,
    NATIVE,
    TOKEN,
    TOPUP,
    PoolCosts,
    PoolPlan,
    operational_wallets,
    reduction_bps,
)

#: The Vault client_ref of pooling deposits: the bank's own coins, never a client's reference.
POOL_REF = hashlib.sha256(b"strongroom:treasury:pooling").digest()
POOL_OWNER = "bank:pooling"  # the ledger owner POOL_REF is registered to
START_LOCK = int.from_bytes(hashlib.sha256(b"treasury_pool_start").digest()[:8], "big", signed=True)
BALANCE_OF = keccak(text="balanceOf(address)")[:4]
PLANNED, READY, SENT, DONE, FAILED = "planned", "ready", "sent", "mined", "failed"


def intent_id(run_id: str, kind: str, wallet: str, asset: str) -> str:
    """The chain sender's idempotency key of one planned transaction."""
    return f"pool:{run_id}:{kind}:{wallet.lower()}:{asset}"


def register_pool_ref(ledger: Any) -> None:
    """Map :data:`POOL_REF` to the bank's own ledger owner :data:`POOL_OWNER` (idempotent), so
    the chain follower books pooling deposits into the Vault there: never to a client, never to
    suspense. Call it before the first run into the Vault."""
    ledger.register_client_ref(POOL_REF, POOL_OWNER)


def read_holdings(w3: Any, wallets: Sequence[str], assets: Sequence[str] = ("ETH", "USDC"), *,
                  minimums: Mapping[tuple[str, str], int] | None = None,
                  tier: Tier = "hot") -> list[Holding]:
    """What each of ``wallets`` holds on chain now (ETH and ERC-20 ``balanceOf``), with its
    minimum from ``minimums[(wallet lower-case, asset)]`` (default 0)."""
    mins = {(w.lower(), a): v for (w, a), v in (minimums or {}).items()}
    out = []
    for wallet in wallets:
        address = to_checksum_address(wallet)
        for symbol in assets:
            asset = by_symbol(symbol)
            if asset.is_native:
                units = int(w3.eth.get_balance(address))
            else:
                raw = w3.eth.call({"to": asset.address,
                                   "data": BALANCE_OF + abi_encode(["address"], [address])})
                units = int.from_bytes(bytes(raw)[:32], "big")
            out.append(Holding(symbol, wallet.lower(), tier, units,
                               mins.get((wallet.lower(), symbol), 0)))
    return out


def run_transactions(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """Run ``run_id``'s planned transactions and their states, in order (amounts as integers);
    ``LookupError`` for an unknown run."""
    with engine.connect() as conn:
        if conn.scalar(select(PoolRun.run_id).where(PoolRun.run_id == run_id)) is None:
            raise LookupError(f"no pooling run {run_id!r}")
        rows = conn.execute(select(PoolTx.__table__).where(PoolTx.run_id == run_id)
                            .order_by(PoolTx.seq)).all()
    return [{"kind": r.kind, "wallet": r.wallet, "asset": r.asset, "units": int(r.units),
             "state": r.state, "tx_hash": r.tx_hash, "reason": r.reason} for r in rows]


def _canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


class PoolRunner:
    """Starts and advances pooling runs (see the module docstring)."""

    def __init__(self, engine: Engine, w3: Any, keys: DepositKeys, *,
                 funding: Keyring | None = None, funding_label: str | None = None,
                 bump_after_s: int = 600, confirmations: int = 1, dry_run: bool = False,
                 on_alert: Any = None) -> None:
        self.engine, self.w3, self.keys = engine, w3, keys
        self.funding, self.funding_label = funding, funding_label
        self.bump_after_s, self.confirmations = bump_after_s, confirmations
        self.dry_run, self.on_alert = dry_run, on_alert
        self._senders: dict[tuple[str, int], TxSender] = {}

    @property
    def funding_address(self) -> str | None:
        """Address of the funding key (pays gas top-ups), if any."""
        if self.funding is None or self.funding_label is None:
            return None
        return self.funding.eth_address(self.funding_label)

    # ------------------------------------------------------------------ start
    def start(self, run_id: str, plan: PoolPlan, costs: PoolCosts) -> bool:
        """Record ``plan`` as run ``run_id`` (rows, report, audit) unless it exists; returns
        True when it was recorded now. Nothing is sent here."""
        if not run_id or len(run_id) > 64 or ":" in run_id:
            raise ValueError("run_id is 1 to 64 characters without ':'")
        funding = self.funding_address
        if any(p.kind == TOPUP for p in plan.moves) and (
                funding is None or any(p.move.source.lower() != funding.lower()
                                       for p in plan.moves if p.kind == TOPUP)):
            raise ValueError("the plan's top-ups are not paid by this runner's funding key")
        ours = set(self.keys.addresses)
        foreign = sorted({p.move.source.lower() for p in plan.moves if p.kind != TOPUP} - ours)
        if foreign:
            raise ValueError(f"{len(foreign)} source wallet(s) are not of HD wallet "
                             f"{self.keys.wallet!r} (e.g. {foreign[0]}): refused")
        wallets = sorted({(p.move.destination if p.kind == TOPUP else p.move.source).lower()
                          for p in plan.moves})
        now = datetime.now(UTC)
        report = {"run": run_id, "max_fee_wei": str(costs.max_fee_wei), **plan.report(),
                  "gas": {TOKEN: costs.token_gas, NATIVE: costs.native_gas,
                          APPROVE: costs.approve_gas},
                  "prices_cents": dict(costs.prices_cents), "min_value_ratio": costs.min_value_ratio,
                  "keys": {"hd_wallet": self.keys.wallet, "seed_name": self.keys.seed_name,
                           "account_path": self.keys.account_path,
                           "funding_label": self.funding_label}}
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            # one start at a time (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped
            # advisory lock), so two overlapping runs started at once cannot both pass the check
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": START_LOCK})
            if conn.scalar(select(PoolRun.run_id).where(PoolRun.run_id == run_id)) is not None:
                return False
            if not self.dry_run:
                busy = conn.execute(
                    select(PoolTx.wallet, PoolTx.run_id).join(
                        PoolRun, PoolRun.run_id == PoolTx.run_id)
                    .where(PoolRun.status == PLANNED, PoolTx.wallet.in_(wallets)).limit(1)).first()
                if busy is not None:  # two live runs would both plan (and top up) one wallet
                    raise ValueError(f"wallet {busy.wallet} is in unfinished run {busy.run_id}: "
                                     "refused")
            conn.execute(insert(PoolRun).values(
                run_id=run_id, destination=plan.destination, funding=funding,
                max_fee_wei=str(costs.max_fee_wei), dry_run=self.dry_run,
                report=_canonical(report), status="dry_run" if self.dry_run else PLANNED,
                created_at=now, updated_at=now))
            rows = []
            for seq, p in enumerate(plan.moves):
                m = p.move
                wallet = m.destination if p.kind == TOPUP else m.source
                rows.append({"run_id": run_id, "seq": seq, "kind": p.kind, "wallet": wallet.lower(),
                             "asset": m.asset, "sender": m.source.lower(),
                             "recipient": m.destination.lower(), "units": str(m.units),
                             "keep": str(p.keep),
                             "intent_id": intent_id(run_id, p.kind, wallet, m.asset),
                             "state": PLANNED})
            if rows:
                conn.execute(insert(PoolTx), rows)
            append(conn, AuditRecord(ACTOR, "treasury.pooling.plan", report,
                                     {"dry_run": self.dry_run, "transactions": len(rows)}))
        return True

    # ------------------------------------------------------------------ advance
    def advance(self, run_id: str) -> dict[str, int]:
        """Move run ``run_id`` on (see the module docstring); returns its rows counted by state.
        Every row whose state changed is in one audit record per call. A dry-run run, or this
        runner in dry-run mode, sends nothing (sends already made are still followed)."""
        run = self._run(run_id)
        before = {r.id: r.state for r in self._rows(run_id)}
        cap = int(run.max_fee_wei)
        if not run.dry_run:
            self._refresh(run_id, cap)
        if not (run.dry_run or self.dry_run):
            self._send_due(run_id, cap)
        rows = self._rows(run_id)
        changed = [[r.kind, r.wallet, r.asset, r.units, r.state, r.tx_hash, r.reason]
                   for r in rows if before[r.id] != r.state]
        counts = Counter(r.state for r in rows)
        finished = run.status == PLANNED and set(counts) <= {DONE, FAILED}
        outcome = self.measure(run_id) if finished else {}
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            if changed:
                append(conn, AuditRecord(ACTOR, "treasury.pooling.advance",
                                         {"run": run_id}, {"changed": changed}))
            if finished:
                self._finish(conn, run_id, {**{k: counts[k] for k in sorted(counts)}, **outcome})
        return dict(counts)

    def _send_due(self, run_id: str, cap: int) -> None:
        """Send every row whose turn has come: top-ups; a wallet's approvals and token moves once
        its top-up is mined (a vault deposit once its approval is mined); its ETH last, once
        everything else it sends is final."""
        rows = self._rows(run_id)
        state = {(r.kind, r.wallet, r.asset): r.state for r in rows}
        pending_tokens = Counter(r.wallet for r in rows if r.kind in (APPROVE, TOKEN)
                                 and r.state not in (DONE, FAILED))
        for row in rows:
            if row.state == PLANNED and row.kind != TOPUP:
                gates = [("gas top-up", state.get((TOPUP, row.wallet, "ETH"), DONE))]
                if row.kind == TOKEN:
                    gates.append(("vault allowance", state.get((APPROVE, row.wallet, row.asset),
                                                               DONE)))
                failed = [name for name, st in gates if st == FAILED]
                if failed:
                    self._mark(row.id, FAILED, reason=f"its {failed[0]} failed")
                    continue
                if any(st != DONE for _, st in gates):
                    continue  # not mined yet
                if row.kind == NATIVE:
                    if pending_tokens[row.wallet]:
                        continue  # the ETH goes last, once the wallet's token gas is paid
                    if not self._fix_native(run_id, row, cap):
                        continue
                    row = self._rows(run_id, row.id)[0]
            if row.state in (PLANNED, READY):
                self._send(run_id, row, cap)

    def _call(self, run_id: str, row: Any) -> tuple[str, bytes, int, int]:
        """``(to, data, value, gas)`` of ``row``'s transaction."""
        report = json.loads(self._run(run_id).report)
        gas, vault = report["gas"], bool(report.get("vault"))
        units, recipient = int(row.units), to_checksum_address(row.recipient)
        token = by_symbol(row.asset).address
        limit = int(gas[row.kind if row.kind != TOPUP else NATIVE])
        if row.kind == APPROVE:
            return token, erc20_approve(recipient, units), 0, limit
        if row.kind == TOKEN and vault:
            return recipient, vault_deposit(token, units, POOL_REF), 0, limit
        if row.kind == TOKEN:
            return token, erc20_transfer(recipient, units), 0, limit
        if row.kind == NATIVE and vault:
            return recipient, vault_deposit_eth(POOL_REF), units, limit
        return recipient, b"", units, limit  # a top-up, or ETH to an address

    def _would_revert(self, sender: str, to: str, data: bytes, value: int, gas: int) -> str | None:
        """None when the call succeeds on the pending state, else its revert reason."""
        reason = call_revert_reason(self.w3, {
            "from": to_checksum_address(sender), "to": to_checksum_address(to),
            "data": "0x" + data.hex(), "value": hex(value), "gas": hex(gas)}, "pending")
        return None if reason is None else reason or "(no reason)"

    def _send(self, run_id: str, row: Any, cap: int) -> None:
        sender = self._sender(row.sender, cap)
        to, data, value, limit = self._call(run_id, row)
        if sender.status(row.intent_id) is None:  # never sent: simulate it first
            reason = self._would_revert(sender.address, to, data, value, limit)
            if reason is None and row.kind == TOPUP:
                reason = self._first_move_fails(run_id, row.wallet)
            if reason is not None:  # e.g. a blacklisted address: no gas burnt on a known revert
                self._mark(row.id, FAILED, reason=f"would revert: {reason}")
                return
        try:
            sent = sender.send(row.intent_id, to, data, value=value, gas=limit)
        except IntentConflictError as err:
            self._mark(row.id, FAILED, reason=str(err))
            return
        self._mark(row.id, SENT, tx_hash=sent.hashes[-1])

    def _first_move_fails(self, run_id: str, wallet: str) -> str | None:
        """Before topping ``wallet`` up: why its first token move (a transfer, or the vault
        allowance) would revert, else None, so no gas is sent to a wallet that cannot use it."""
        first = next((r for r in self._rows(run_id) if r.wallet == wallet
                      and r.kind in (APPROVE, TOKEN)), None)
        if first is None:
            return None
        to, data, value, limit = self._call(run_id, first)
        reason = self._would_revert(first.sender, to, data, value, limit)
        return None if reason is None else f"the {first.asset} {first.kind} it pays for: {reason}"

    def _fix_native(self, run_id: str, row: Any, cap: int) -> bool:
        """Fix the ETH amount of ``row`` from the wallet's balance now that its token transfers
        are final: everything above its minimum but this transfer's gas at the cap (what the
        reserve for the token gas left unspent goes too). Written (state ``ready``) before the
        send, so a restart sends this amount. Less than planned (someone else spent from the
        wallet) fails the row instead of sending."""
        gas = self._costs_gas(run_id, NATIVE)
        balance = int(self.w3.eth.get_balance(to_checksum_address(row.wallet)))
        units = balance - int(row.keep) - gas * cap
        if units < int(row.units):
            self._mark(row.id, FAILED, reason=f"balance {balance} wei is below the plan "
                       f"({row.units} + minimum {row.keep} + gas): nothing sent")
            return False
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(update(PoolTx).where(PoolTx.id == row.id, PoolTx.state == PLANNED)
                         .values(units=str(units), state=READY))
        return True

    def _costs_gas(self, run_id: str, kind: str) -> int:
        report = json.loads(self._run(run_id).report)
        return int(report["gas"][kind])

    def _refresh(self, run_id: str, cap: int) -> None:
        """Tick the senders of sent rows and record the final states."""
        sent = [r for r in self._rows(run_id) if r.state == SENT]
        for address in sorted({r.sender for r in sent}):
            self._sender(address, cap).tick()
        for r in sent:
            status = self._sender(r.sender, cap).status(r.intent_id)
            if status is None:
                continue
            if status.state == MINED:
                self._mark(r.id, DONE, tx_hash=status.mined_hash)
            elif status.state in (REVERTED, DROPPED):
                self._mark(r.id, FAILED, tx_hash=status.mined_hash,
                           reason=f"{status.state}: {status.revert_reason or ''}".rstrip(": "))

    def _sender(self, address: str, cap: int) -> TxSender:
        key = (address.lower(), cap)
        if key not in self._senders:
            cfg = SenderConfig(max_fee_wei=cap, bump_after_s=self.bump_after_s,
                               min_tip_wei=min(10**9, cap), confirmations=self.confirmations)
            funding = self.funding_address
            if funding is not None and address.lower() == funding.lower():
                ring, label = self.funding, self.funding_label
            else:
                ring, label = self.keys.keyring(address), address.lower()
            assert ring is not None and label is not None  # noqa: S101 - checked at start
            self._senders[key] = TxSender(self.engine, self.w3, ring, label, cfg,
                                          on_alert=self.on_alert)
        return self._senders[key]

    # ------------------------------------------------------------------ rows
    def _run(self, run_id: str) -> Any:
        with self.engine.connect() as conn:
            run = conn.execute(select(PoolRun.__table__).where(PoolRun.run_id == run_id)).one_or_none()
        if run is None:
            raise LookupError(f"no pooling run {run_id!r}")
        return run

    def _rows(self, run_id: str, row_id: int | None = None) -> list[Any]:
        q = select(PoolTx.__table__).where(PoolTx.run_id == run_id)
        if row_id is not None:
            q = q.where(PoolTx.id == row_id)
        with self.engine.connect() as conn:
            return list(conn.execute(q.order_by(PoolTx.seq)))

    def _mark(self, row_id: int, state: str, tx_hash: str | None = None,
              reason: str | None = None) -> None:
        values: dict[str, Any] = {"state": state}
        if tx_hash is not None:
            values["tx_hash"] = tx_hash
        if reason is not None:
            values["reason"] = reason
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(update(PoolTx).where(PoolTx.id == row_id).values(**values))

    def _finish(self, conn: Connection, run_id: str, result: dict[str, int]) -> None:
        done = conn.execute(update(PoolRun).where(PoolRun.run_id == run_id,
                                                  PoolRun.status == PLANNED)
                            .values(status="done", updated_at=datetime.now(UTC))).rowcount
        if done:
            append(conn, AuditRecord(ACTOR, "treasury.pooling.done", {"run": run_id}, result))

    def measure(self, run_id: str) -> dict[str, int]:
        """The SC-005 figures of a run on the chain now: operational wallets before (from the
        plan), after (the destination and every source a fresh plan at the run's fee cap and
        prices would still move from, minimums kept) and the reduction in basis points."""
        run = self._run(run_id)
        report = json.loads(run.report)
        rows = [r for r in self._rows(run_id) if r.kind != TOPUP]
        assets = sorted({r.asset for r in rows} | {"ETH"})
        keep = {(r.wallet, r.asset): int(r.keep) for r in rows}
        costs = PoolCosts(max_fee_wei=int(report["max_fee_wei"]),
                          prices_cents=report["prices_cents"], native_gas=report["gas"][NATIVE],
                          token_gas=report["gas"][TOKEN], approve_gas=report["gas"][APPROVE],
                          min_value_ratio=report["min_value_ratio"])
        after = read_holdings(self.w3, sorted({r.wallet for r in rows}), assets, minimums=keep)
        ops = operational_wallets(after, run.destination, costs, funding=run.funding,
                                  vault=bool(report.get("vault")))
        before = int(report["wallets_before"])
        return {"wallets_before": before, "wallets_after": len(ops),
                "reduction_bps": reduction_bps(before, len(ops))}

    def transactions(self, run_id: str) -> list[dict[str, Any]]:
        """The run's planned transactions and their states (see :func:`run_transactions`)."""
        return run_transactions(self.engine, run_id)

    def close(self) -> None:
        """Release the senders (the engine is the caller's)."""
        for s in self._senders.values():
            s.close()
