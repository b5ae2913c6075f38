"""Chain follower: mirrors vault and token events into the ledger, exactly once, reorg-safe.

Each ``step`` reads one block range that has ``confirmations`` blocks on top of it and posts its
events to the ledger *together with* the cursor (block number + hash) in one database transaction
(:meth:`keeper.ledger.Ledger.move_cursor`): a crash anywhere before that commit leaves both
untouched, a crash after it leaves both advanced, so a restart never loses nor doubles an event.
Transfer ids (``name:gGEN:blockhash:logindex``) are also idempotency ids, a second guard.

Single writer: a step runs only while this follower holds the cursor's lease (renewed by every
step, taken over by another process once it expires); the cursor moves by compare-and-set on
(position, hash, generation) with the lease checked in the same transaction, so a second keeper
on the same database neither doubles nor wedges anything.

Hostile input: every event becomes its own posting group (:mod:`keeper.chain.postings`); a group
the ledger refuses is replaced by a suspense posting or an alert, never blocking the range.

Distrust of the node (:mod:`keeper.chain.reader`): logs are read first, then every header of the
range; the headers must chain to the stored cursor hash and to each other, every log's block hash
must match, and a block whose ``logsBloom`` admits one of our queries but got no log is re-read
from its receipts. After each range the vaults' on-chain balances are compared with the omnibus
accounts (``balance_mismatch`` alert), so a future miss is caught, not silent.

Reorgs: when the next block's parentHash differs from the stored hash, the follower finds the
fork point among the stored block hashes, reverses every posting from orphaned blocks (an
orphaned withdrawal settlement becomes a re-hold of the same ``op_id``, so a re-included
withdrawal settles again instead of refunding the client), rewinds the cursor and bumps its
generation, all in one transaction.

Tier wallets: the vault's ``tier_address(1|2)`` (warm and cold Multisigs), read at both ends of
each range, are followed too: ERC-20 transfers out of them, ETH between them
(``SafeReceived``) and their executions (``ExecutionSuccess``), whose transaction is read for
the ETH each paid to someone outside (:meth:`Follower._payments`). The postings rules are in
:mod:`keeper.chain.postings`.

Endpoint switches (:mod:`keeper.chain.endpoints`): whenever the node in use changes (and at the
first step of a process), :meth:`Follower.verify_cursor` checks the recorded hashes of the cursor
block and the recent blocks against the new node before anything is read for posting: a node
lacking them is behind and refused, a different hash takes the reorg path. A step whose reads
straddled a switch is dropped and re-read after the check.

Unconfirmed deposits: after each catch-up, a :class:`~keeper.chain.pending.TipWatcher` pass
records the vault deposits of the tip above the cursor as *sightings* for clients to see (never
postings), in its own transaction; its failure is alerted and never stops the follower.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from web3 import Web3

from keeper.assets import ZERO_ADDRESS
from keeper.audit import AuditRecord, append
from keeper.chain import events as ev
from keeper.chain.endpoints import note_floor, refuse_endpoint, switches
from keeper.chain.pending import TipWatcher
from keeper.chain.postings import Group, Mapper, audit_records, fallback, vault_location
from keeper.chain.reader import ChainReader, Query, RpcError
from keeper.ledger import (
    CursorMoved,
    CursorState,
    InsufficientFunds,
    Kind,
    LeaseGrant,
    Ledger,
    LedgerError,
    TransferSpec,
)
from keeper.ledger.sources import WITHDRAWAL_GRACE

log = logging.getLogger(__name__)
CAUGHT_UP = -1  # step(): nothing left with enough confirmations
LEASE_HELD = -2  # step(): another process holds the cursor's lease (retry after a pause)
VERIFY_BLOCKS = 64  # recorded blocks checked against a node the follower switched to
AlertSink = Callable[[str, str], None]


class ForeignChainError(RuntimeError):
    """The node shares none of the recorded blocks (a reorg deeper than all, or another chain)."""


@dataclass
class FollowerConfig:
    """What to follow. ``tokens`` maps token address -> asset symbol (ETH is the zero address).

    ``lease_seconds``: how long a silent follower keeps the cursor before another may take it.
    ``max_logs``: an ``eth_getLogs`` answer this long is treated as capped and the range split.
    """

    vault: str
    tokens: dict[str, str] = field(default_factory=dict)
    confirmations: int = 12
    name: str = "vault"
    start_block: int = 0
    range_size: int = 2000
    lease_seconds: float = 30.0
    max_logs: int = 10_000
    holder: str = ""


class Follower:
    """Follows one vault (and its successors) on one chain into a :class:`~keeper.ledger.Ledger`."""

    def __init__(self, w3: Web3, ledger: Ledger, config: FollowerConfig,
                 on_alert: AlertSink | None = None) -> None:
        self.w3, self.ledger, self.cfg = w3, ledger, config
        self.reader = ChainReader(w3, config.max_logs)
        self.vault = config.vault.lower()
        self.tokens = {k.lower(): v for k, v in config.tokens.items()}
        self.tokens.setdefault(ZERO_ADDRESS, "ETH")
        self.on_alert = on_alert
        self.holder = config.holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self.lease: LeaseGrant | None = None
        self.tip = TipWatcher(self)
        self.tiers: dict[str, int] = {}  # the tier wallets of the range being read
        self._verified: int | None = None  # endpoint switch count the cursor was verified at

    # ------------------------------------------------------------------ state
    def cursor(self) -> tuple[int, str, int] | None:
        """(block number, block hash, generation) of the last committed block, or None."""
        st = self.ledger.cursor(self.cfg.name)
        return None if st is None else (st.position, st.position_hash, st.generation)

    def vaults(self, state: CursorState | None) -> list[str]:
        """The followed vaults: the configured one and every vault followed before under this
        cursor (predecessors and successors: re-configuring the successor as ``vault`` after a
        migration keeps the old vault followed, for funds that still arrive there)."""
        return list(dict.fromkeys([self.vault, *(state.addresses if state else ())]))

    def close(self) -> None:
        """Give up the cursor's lease so another keeper can take over at once."""
        if self.lease is not None:
            self.ledger.release_lease(self.lease)
            self.lease = None

    # ------------------------------------------------------------------ main loop
    def run_until_synced(self, max_steps: int = 1_000_000) -> int:
        """Step until nothing is left with enough confirmations (or another process holds the
        lease), then record the unconfirmed tip's deposits (:meth:`TipWatcher.scan`, which never
        raises); returns events applied."""
        total = 0
        for _ in range(max_steps):
            n = self.step()
            if n == CAUGHT_UP:
                self.tip.scan()
            if n < 0:
                return total
            total += n
        return total

    def step(self) -> int:
        """Process one range (or one reorg). Returns events applied, :data:`CAUGHT_UP` (-1), or
        :data:`LEASE_HELD` (-2) while another process holds the cursor's lease."""
        self.lease = self.ledger.acquire_lease(self.cfg.name, self.holder, self.cfg.lease_seconds)
        if self.lease is None:
            return LEASE_HELD
        state = self.ledger.cursor(self.cfg.name)
        pos, pos_hash, gen = ((state.position, state.position_hash, state.generation) if state
                              else (self.cfg.start_block - 1, "", 0))
        note_floor(self.w3, pos)  # a node whose head is below the cursor is behind
        head = self.reader.head()
        epoch = switches(self.w3)
        if state is not None and self._verified != epoch:
            if not self.verify_cursor(state):
                return 0
            if switches(self.w3) != epoch:
                return 0  # the endpoint changed again while verifying: verify on the next step
            self._verified = epoch
        safe = head - self.cfg.confirmations
        if safe <= pos:
            return CAUGHT_UP
        end = min(safe, pos + self.cfg.range_size)
        vaults = self.vaults(state)
        for _ in range(8):  # a Migrated event adds a vault: read the range again with it
            # the tiers at both ends: a tier replaced inside the range is followed all along
            self.tiers = {**self.tier_wallets(vaults, max(pos, 0)), **self.tier_wallets(vaults, end)}
            read = self._read(pos + 1, end, vaults)
            if read is None:
                return 0  # the chain moved under the reads: retry
            logs, headers = read
            if state is not None and headers[0]["parentHash"].lower() != pos_hash:
                self._rollback(state)
                return 0
            decoded = self._decode(logs, vaults, gen)
            new = sorted({e.to for e, _ in decoded if e.kind == "migrated"} - set(vaults))
            if not new:
                break
            vaults = vaults + new
        else:
            raise RuntimeError(f"{self.cfg.name}: migration chain longer than 8 in one range")
        hashes = {int(h["number"], 16): h["hash"].lower() for h in headers}
        blocks = {e.block_number: e.block_hash for e, _ in decoded}
        blocks[end] = hashes[end]
        if state is None and pos >= 0:  # anchor: a fork point below the first range must exist
            blocks[pos] = self.reader.header(pos)["hash"].lower()
        to = CursorState(self.cfg.name, end, hashes[end], gen, int(headers[-1]["timestamp"], 16),
                         tuple(vaults))
        decoded = self._payments(decoded, vaults)
        if switches(self.w3) != epoch:  # read partly through another node: verify it first
            log.warning("%s: RPC endpoint changed during the step; verifying before posting",
                        self.cfg.name)
            return 0
        m = Mapper(self.ledger, self.cfg.name, self.tokens, gen, self.tiers)
        groups = self._commit(m, m.groups(decoded), state, to, blocks)
        if groups is None:
            return 0
        self._emit([a for g in groups for a in g.alerts])
        self._check_balances(end, vaults)
        return len(decoded)

    # ------------------------------------------------------------------ endpoint checks
    def verify_cursor(self, state: CursorState) -> bool:
        """Check the node in use against the cursor: the hashes recorded for the cursor block
        and the recent blocks kept for reorg detection (the newest :data:`VERIFY_BLOCKS`) must
        be the node's. True when they are; on a difference the reorg path runs
        (:meth:`_rollback`, the fork point found on this node) and False is returned. A node
        lacking one of those blocks (behind), or sharing none of them (another chain), is
        refused and the step raises (:class:`RpcError` / :class:`ForeignChainError`): the job
        fails once and its next run reads through the next endpoint (never a busy loop)."""
        recorded = self.ledger.cursor_blocks(self.cfg.name)[:VERIFY_BLOCKS]
        if not recorded:
            return True
        got = self.reader.batch([("eth_getBlockByNumber", [hex(n), False]) for n, _ in recorded])
        if any(h is None for h in got):
            missing = max(n for (n, _), h in zip(recorded, got, strict=True) if h is None)
            why = f"node lacks block {missing}"
            refuse_endpoint(self.w3, f"{why} (cursor at {state.position})")
            raise RpcError(f"{self.cfg.name}: {why}, cursor at {state.position}")
        differ = [n for (n, h), hdr in zip(recorded, got, strict=True)
                  if hdr["hash"].lower() != h]
        if not differ:
            return True
        log.warning("%s: the node's hash of block(s) %s differs from the recorded one(s); "
                    "taking the reorg path", self.cfg.name, differ)
        try:
            self._rollback(state)
        except ForeignChainError as exc:  # no recorded block is on this node's chain
            refuse_endpoint(self.w3, str(exc))
            raise
        return False

    # ------------------------------------------------------------------ reads
    def tier_wallets(self, vaults: list[str], block: int) -> dict[str, int]:
        """The tier wallets (lower-case address -> tier number) of ``vaults`` at ``block``, or
        at the latest block when the node no longer has that state (a pruned node catching
        up). Raises when neither can be read: a range is never read without its tiers."""
        out: dict[str, int] = {}
        for vault in vaults:
            try:
                out.update(self.reader.tier_addresses(vault, block))
            except RpcError:
                out.update(self.reader.tier_addresses(vault, "latest"))
        return {a: t for a, t in out.items() if a not in vaults}

    def _queries(self, vaults: list[str]) -> list[Query]:
        topics = ["0x" + "00" * 12 + v[2:] for v in vaults]
        payers = topics + ["0x" + "00" * 12 + t[2:] for t in self.tiers]
        qs = [Query(vaults, [ev.VAULT_TOPICS])]
        if self.tiers:
            qs.append(Query(list(self.tiers), [ev.TIER_TOPICS]))
        erc20 = [a for a in self.tokens if a != ZERO_ADDRESS]
        if erc20:
            qs += [Query(erc20, [ev.TRANSFER, None, topics]), Query(erc20, [ev.TRANSFER, payers]),
                   Query(erc20, [ev.DESTROYED])]
        return qs

    def _read(self, start: int, end: int, vaults: list[str],
              queries: list[Query] | None = None) -> tuple[list[dict], list[dict]] | None:
        """Logs (of ``queries``, default every query of ``vaults``) then headers of
        ``start..end``; None if they disagree (the chain moved)."""
        qs = queries or self._queries(vaults)
        logs = [lg for q in qs for lg in self.reader.logs(start, end, q)]
        headers = self.reader.headers(start, end)
        hashes = {int(h["number"], 16): h["hash"].lower() for h in headers}
        for prev, h in zip(headers, headers[1:], strict=False):
            if h["parentHash"].lower() != prev["hash"].lower():
                return None
        if any(hashes.get(int(lg["blockNumber"], 16)) != lg["blockHash"].lower() for lg in logs):
            return None
        seen = {int(lg["blockNumber"], 16) for lg in logs}
        for h in headers:  # bloom says "maybe", the node said nothing: ask the receipts
            n = int(h["number"], 16)
            bloom = int(h["logsBloom"], 16)
            if n not in seen and any(q.maybe_in(bloom) for q in qs):
                got = [lg for lg in self.reader.receipt_logs(h["hash"])
                       if any(q.matches(lg) for q in qs)]
                if got:
                    log.warning("%s: node returned no logs for block %d; its receipts hold %d",
                                self.cfg.name, n, len(got))
                logs += [{**lg, "blockNumber": h["number"], "blockHash": h["hash"]} for lg in got]
        uniq = {(lg["blockHash"].lower(), int(lg["logIndex"], 16)): lg for lg in logs
                if not lg.get("removed")}
        return sorted(uniq.values(), key=lambda lg: (int(lg["blockNumber"], 16),
                                                     int(lg["logIndex"], 16))), headers

    def _decode(self, logs: list[dict], vaults: list[str],
                gen: int) -> list[tuple[ev.Event, str]]:
        out = []
        vs = set(vaults)
        for lg in logs:
            for i, e in enumerate(ev.decode(lg, vs, self.tiers)):
                tid = f"{self.cfg.name}:g{gen}:{e.block_hash}:{e.log_index}" + (f".{i}" if i else "")
                out.append((e, tid))
        return out

    def _payments(self, decoded: list[tuple[ev.Event, str]],
                  vaults: list[str]) -> list[tuple[ev.Event, str]]:
        """Replace each tier ``execution`` by the ETH it paid outside our wallets (a CALL with
        value, or the calls of a MultiSendCallOnly batch), read from its ``execTransaction``
        calldata: ETH leaves a Multisig without a log. Payments to a tier or a vault are left
        to their own logs (``SafeReceived``, ``Deposit``). An execution not made by a direct
        ``execTransaction`` call, or whose transaction the node does not return (an index
        pruned), stays and is alerted (``tier_execution_unread``): never a halted follower."""
        from keeper.safetx.chain import decode_exec_transaction  # safetx imports keeper.chain

        out: list[tuple[ev.Event, str]] = []
        for e, tid in decoded:
            if e.kind != "execution":
                out.append((e, tid))
                continue
            tx = self.reader.rpc("eth_getTransactionByHash", [e.tx_hash])
            call = (decode_exec_transaction(bytes.fromhex(tx["input"][2:]))
                    if tx is not None and (tx.get("to") or "").lower() == e.sender else None)
            calls = _calls(call[0]) if call is not None else None
            if calls is None:
                out.append((e, tid))
                continue
            ours = {*self.tiers, *vaults}
            paid = [(to.lower(), value) for to, value in calls
                    if value > 0 and to.lower() not in ours]
            out += [(replace(e, kind="tier_transfer", to=to, amount=value), f"{tid}.p{i}")
                    for i, (to, value) in enumerate(paid)]
        return out

    # ------------------------------------------------------------------ commit
    def _commit(self, m: Mapper, groups: list[Group], state: CursorState | None,
                to: CursorState, blocks: dict[int, str]) -> list[Group] | None:
        """Post every group with the cursor move; refused groups fall back (suspense, then an
        alert alone). Returns the groups committed, or None if another process moved the cursor."""
        for attempt in range(3):
            try:
                records = audit_records(self.cfg.name, groups, to.generation)
                self.ledger.move_cursor(
                    [t for g in groups for t in g.transfers], expected=state, to=to,
                    blocks=blocks, alerts=[a for g in groups for a in g.alerts], lease=self.lease,
                    also=_writer(records))
                return groups
            except CursorMoved as exc:
                log.warning("%s: %s; this step is dropped", self.cfg.name, exc)
                return None
            except LedgerError as exc:
                log.warning("%s: range refused (%s); isolating the refused events",
                            self.cfg.name, exc)
                errors = self.ledger.refusals([g.transfers for g in groups])
                groups = [g if err is None else fallback(g, m, err, attempt > 0)
                          for g, err in zip(groups, errors, strict=True)]
        raise RuntimeError(f"{self.cfg.name}: range {to.position} kept being refused")

    def _emit(self, alerts: list[tuple[str, str, str]]) -> None:
        for kind, message, _ in alerts:
            log.warning("alert %s: %s", kind, message)
            if self.on_alert:
                self.on_alert(kind, message)

    def _check_balances(self, block: int, vaults: list[str]) -> None:
        """Compare each vault's on-chain balance per asset at ``block`` with its omnibus."""
        for vault in vaults:
            for token, asset in sorted(self.tokens.items()):
                try:
                    chain = self.reader.balance(vault, token, block)
                except (RpcError, ValueError) as exc:  # e.g. a pruned node: state too old
                    log.info("%s: balance check skipped (%s)", self.cfg.name, exc)
                    return
                b = self.ledger.balance(self.ledger.omnibus_account(asset, vault_location(vault)))
                book = b.debits_posted - b.credits_posted
                if chain != book:
                    msg = (f"vault {vault} holds {chain} {asset} on chain at block {block}, the "
                           f"ledger's omnibus {book} (difference {chain - book})")
                    ref = f"{self.cfg.name}:balance:{vault}:{asset}:{chain - book}"
                    if self.ledger.raise_alert("balance_mismatch", msg, ref):
                        self._emit([("balance_mismatch", msg, ref)])

    # ------------------------------------------------------------------ reorg
    def _fork_point(self) -> tuple[int, str, int]:
        for number, h in self.ledger.cursor_blocks(self.cfg.name):
            hdr = self.reader.header(number)
            if hdr["hash"].lower() == h:
                return number, h, int(hdr["timestamp"], 16)
        raise ForeignChainError(f"{self.cfg.name}: reorg deeper than every stored block")

    def _rollback(self, state: CursorState) -> None:
        fork, fork_hash, fork_time = self._fork_point()
        gen = state.generation + 1
        orphans = self.ledger.source_postings(self.cfg.name, fork)
        specs: list[TransferSpec] = []
        for tid, debit, credit, amount, _asset, pending in orphans:
            specs.append(TransferSpec(f"rev:{tid}", credit, debit, amount, reverses_id=tid,
                                      reference=f"reorg: block > {fork} orphaned"))
            if pending and pending.startswith("withdrawal:"):
                specs.append(self._rehold(pending, debit, credit, amount, gen))
        log.warning("%s: reorg at %d, fork point %d, reversing %d postings",
                    self.cfg.name, state.position, fork, len(orphans))
        alert = ("reorg", f"reorg below block {state.position + 1}: fork point {fork}, "
                 f"{len(orphans)} postings reversed", f"{self.cfg.name}:reorg:g{gen}")
        to = CursorState(self.cfg.name, fork, fork_hash, gen, fork_time, state.addresses)
        covers: list[TransferSpec] = []
        shortfalls: list[tuple[str, str, str]] = []
        for _attempt in range(5):
            try:
                record = AuditRecord(
                    f"chain:{self.cfg.name}", "chain.reorg",
                    {"from": state.position, "fork": fork, "fork_hash": fork_hash,
                     "generation": gen, "reversed": [o[0] for o in orphans]},
                    {"transfers": [t.transfer_id for t in covers + specs],
                     "alerts": [[k, r] for k, _, r in (*shortfalls, alert)]})
                self.ledger.move_cursor(covers + specs, expected=state, to=to,
                                        drop_blocks_above=fork, alerts=[*shortfalls, alert],
                                        lease=self.lease,
                                        also=_writer([record]))
                break
            except CursorMoved as exc:
                log.warning("%s: %s; rollback dropped", self.cfg.name, exc)
                return
            except InsufficientFunds:
                covers, shortfalls = self._covers(orphans, gen)
        else:
            raise RuntimeError(f"{self.cfg.name}: reorg reversal kept failing for lack of funds")
        for kind, message, _ in shortfalls:
            log.error("alert %s: %s", kind, message)
        self._emit([*shortfalls, alert])

    def _rehold(self, hold_id: str, debit: int, credit: int, amount: int,
                gen: int) -> TransferSpec:
        """A fresh hold for a withdrawal whose settlement a reorg orphaned: the operation may be
        re-included (then it settles this hold, matched by ``op_id``) or not (then it expires)."""
        base = hold_id.split(":r")[0]
        old = self.ledger.hold(hold_id)
        floor = datetime.now(UTC) + WITHDRAWAL_GRACE
        expires = max(old.expires_at, floor) if old and old.expires_at else floor
        return TransferSpec(f"{base}:r{gen}", debit, credit, amount, Kind.PENDING,
                            expires_at=expires,
                            reference=f"re-hold after reorg of {hold_id}")

    def _covers(self, orphans: list[Any], gen: int) -> tuple[list[TransferSpec], list[tuple]]:
        """Suspense -> client transfers covering what each client lacks to be debited."""
        need: dict[int, int] = {}
        assets: dict[int, str] = {}
        for _tid, _debit, credit, amt, asset, _p in orphans:  # the reversal debits the credit
            need[credit] = need.get(credit, 0) + amt
            assets[credit] = asset
        covers: list[TransferSpec] = []
        alerts: list[tuple[str, str, str]] = []
        for acc, bal in sorted(self.ledger.client_balances_of(sorted(need)).items()):
            short = need[acc] - bal.available
            if short <= 0:
                continue
            asset = assets[acc]
            ref = f"{self.cfg.name}:reorg-shortfall:g{gen}:{acc}"
            covers.append(TransferSpec(ref, self.ledger.suspense_account(asset), acc, short,
                                       reference="reorg shortfall: orphaned credit already spent"))
            alerts.append(("reorg_shortfall", f"reorg reversed credits of account {acc} it had "
                           f"already spent: {short} {asset} posted to suspense to recover", ref))
        return covers, alerts


def _calls(fields: Any) -> list[tuple[str, int]] | None:
    """(payee, wei) of every call a SafeTx made: itself, or its MultiSendCallOnly batch
    (None when the batch cannot be decoded)."""
    if fields.operation == 0:
        return [(fields.to, fields.value)]
    from safe_eth.safe.multi_send import MultiSend

    try:
        return [(t.to, t.value) for t in MultiSend.from_transaction_data(fields.data)]
    except Exception:  # noqa: BLE001 - a batch we cannot read is alerted, never guessed
        return None


def _writer(records: list[AuditRecord]) -> Callable[[Connection], None]:
    """Append ``records`` in the transaction that commits the postings they describe."""

    def write(conn: Connection) -> None:
        append(conn, records)

    return write
