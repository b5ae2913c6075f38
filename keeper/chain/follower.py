"""Chain follower: mirrors vault and token events into the ledger, exactly once, reorg-safe.

Each ``step`` reads one block range that has ``confirmations`` blocks on top of it and posts its
events to the ledger *together with* the cursor (block number + hash) in one database transaction
(a hook of an atomic ledger request): a crash anywhere before that commit leaves both untouched, a
crash after it leaves both advanced, so a restart never loses nor doubles an event. Transfer ids
(``name:gGEN:blockhash:logindex``) are also idempotency ids, a second guard against doubles.

Reorgs: before reading past the cursor, the next block's parentHash must equal the stored hash.
On a mismatch the follower finds the fork point among the stored block hashes, posts reversing
transfers for every posting from orphaned blocks, rewinds the cursor and bumps its generation (so a
re-included event gets a fresh transfer id and is credited once), all in one transaction; the
canonical blocks are then applied by the following steps.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from web3 import Web3

from keeper.chain import events as ev
from keeper.ledger import InsufficientFunds, Kind, Ledger, TransferSpec
from keeper.ledger.models import Account, Alert, Cursor, CursorBlock, Transfer

log = logging.getLogger(__name__)
AlertSink = Callable[[str, str], None]


@dataclass
class FollowerConfig:
    """What to follow. ``tokens`` maps token address -> asset symbol (ETH is the zero address)."""

    vault: str
    tokens: dict[str, str] = field(default_factory=dict)
    confirmations: int = 12
    name: str = "vault"
    start_block: int = 0
    range_size: int = 2000


class Follower:
    """Follows one vault on one chain into a :class:`~keeper.ledger.Ledger`."""

    def __init__(self, w3: Web3, ledger: Ledger, config: FollowerConfig,
                 on_alert: AlertSink | None = None) -> None:
        self.w3, self.ledger, self.cfg = w3, ledger, config
        self.vault = config.vault.lower()
        self.tokens = {k.lower(): v for k, v in config.tokens.items()}
        self.tokens.setdefault(ev.ZERO, "ETH")
        self.on_alert = on_alert
        self.vault_loc = f"vault:{self.vault}"

    # ------------------------------------------------------------------ rpc
    def _rpc(self, method: str, params: list[Any]) -> Any:
        resp = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']}")
        return resp["result"]

    def _header(self, number: int) -> dict[str, Any]:
        return self._rpc("eth_getBlockByNumber", [hex(number), False])

    # ------------------------------------------------------------------ state
    def cursor(self) -> tuple[int, str, int] | None:
        """(block number, block hash, generation) of the last committed block, or None."""
        with self.ledger.engine.connect() as conn:
            row = conn.execute(
                select(Cursor.position, Cursor.position_hash, Cursor.generation).where(
                    Cursor.name == self.cfg.name)
            ).one_or_none()
        return None if row is None else (row[0], row[1], row[2])

    # ------------------------------------------------------------------ main loop
    def run_until_synced(self, max_steps: int = 1_000_000) -> int:
        """Step until nothing is left with enough confirmations; returns events applied."""
        total = 0
        for _ in range(max_steps):
            n = self.step()
            if n < 0:
                return total
            total += n
        return total

    def step(self) -> int:
        """Process one range (or one reorg). Returns events applied, or -1 when caught up."""
        cur = self.cursor()
        pos, pos_hash, gen = cur if cur else (self.cfg.start_block - 1, "", 0)
        safe = int(self._rpc("eth_blockNumber", []), 16) - self.cfg.confirmations
        if safe <= pos:
            return -1
        if cur is not None:
            nxt = self._header(pos + 1)
            if nxt["parentHash"].lower() != pos_hash:
                self._rollback(pos)
                return 0
        end = min(safe, pos + self.cfg.range_size)
        end_hdr = self._header(end)
        logs = self._logs(pos + 1, end)
        decoded = [e for e in (ev.decode(lg, self.vault) for lg in logs) if e is not None]
        if not self._consistent(decoded, end, end_hdr["hash"].lower()):
            return 0  # the chain moved under us: retry
        transfers, alerts = self._build(decoded, gen)
        blocks = {e.block_number: e.block_hash for e in decoded}
        blocks[end] = end_hdr["hash"].lower()
        if cur is None and pos >= 0:  # anchor: a fork point below the first range must be found
            blocks[pos] = self._header(pos)["hash"].lower()
        self._commit(transfers, alerts, end, blocks[end], gen, blocks)
        return len(decoded)

    def _logs(self, start: int, end: int) -> list[dict[str, Any]]:
        vault_topic = "0x" + "00" * 12 + self.vault[2:]
        span = {"fromBlock": hex(start), "toBlock": hex(end)}
        out = self._rpc("eth_getLogs", [{**span, "address": self.vault,
                                          "topics": [ev.VAULT_TOPICS]}])
        erc20 = [a for a in self.tokens if a != ev.ZERO]
        if erc20:
            out += self._rpc("eth_getLogs", [{**span, "address": erc20,
                                              "topics": [ev.TRANSFER, None, vault_topic]}])
            out += self._rpc("eth_getLogs", [{**span, "address": erc20,
                                              "topics": [ev.TRANSFER, vault_topic]}])
        out = [lg for lg in out if not lg.get("removed")]
        out.sort(key=lambda lg: (int(lg["blockNumber"], 16), int(lg["logIndex"], 16)))
        return out

    def _consistent(self, decoded: list[ev.Event], end: int, end_hash: str) -> bool:
        """All logs come from the chain whose block ``end`` is ``end_hash`` (checked by hash)."""
        nums = sorted({e.block_number for e in decoded} - {end})
        hashes = {e.block_number: e.block_hash for e in decoded}
        if end in hashes and hashes[end] != end_hash:
            return False
        for n in nums[-64:]:  # recent blocks are the only ones a reorg can still touch
            if self._header(n)["hash"].lower() != hashes[n]:
                return False
        return self._header(end)["hash"].lower() == end_hash

    # ------------------------------------------------------------------ mapping
    def _build(self, decoded: list[ev.Event], gen: int) -> tuple[list[TransferSpec], list[tuple]]:
        lg, refs = self.ledger, self.ledger.client_refs()
        transfers: list[TransferSpec] = []
        alerts: list[tuple[str, str, str]] = []
        explained: Counter[tuple[str, str, int, str]] = Counter()
        for e in decoded:
            if e.kind in ("deposit", "withdrawal", "sweep"):
                direction = "in" if e.kind == "deposit" else "out"
                explained[(e.tx_hash, e.token, e.amount, direction)] += 1
        for e in decoded:
            tid = f"{self.cfg.name}:g{gen}:{e.block_hash}:{e.log_index}"
            asset = self.tokens.get(e.token)
            if asset is None:  # a vault event of a token we were not configured to custody
                alerts.append(("unknown_token", f"{e.kind} of {e.amount} units of unconfigured "
                               f"token {e.token} (block {e.block_number} tx {e.tx_hash})", tid))
                continue
            om = lg.omnibus_account(asset, self.vault_loc)
            ref = f"block {e.block_number} tx {e.tx_hash} log {e.log_index}"
            src = {"source": self.cfg.name, "source_pos": e.block_number}
            if e.kind == "deposit":
                client = refs.get(e.client_ref)
                if client is None:
                    credit = lg.suspense_account(asset)
                    alerts.append(("unknown_client_ref", f"deposit of {e.amount} {asset} with "
                                   f"unknown client_ref {e.client_ref} ({ref})", tid))
                else:
                    credit = lg.client_account(client, asset)
                transfers.append(TransferSpec(tid, om, credit, e.amount, reference=ref, **src))
            elif e.kind == "withdrawal":
                hold = f"withdrawal:{e.op_id}"
                if self._open_hold(hold):
                    transfers.append(TransferSpec(tid, 0, 0, e.amount, Kind.POST,
                                                  pending_id=hold, reference=ref, **src))
                else:
                    alerts.append(("unmatched_withdrawal", f"withdrawal {e.op_id} of {e.amount} "
                                   f"{asset} has no open hold ({ref})", tid))
                    transfers.append(TransferSpec(tid, lg.suspense_account(asset), om, e.amount,
                                                  reference=ref, **src))
            elif e.kind == "sweep":
                dest = lg.omnibus_account(asset, f"tier{e.tier}:{e.to}")
                transfers.append(TransferSpec(tid, dest, om, e.amount, reference=ref, **src))
            else:  # token transfers: only those no vault event explains
                key = (e.tx_hash, e.token, e.amount, "in" if e.kind == "transfer_in" else "out")
                if explained[key] > 0:
                    explained[key] -= 1
                    continue
                susp = lg.suspense_account(asset)
                alerts.append((f"unattributed_{e.kind}", f"{e.kind} of {e.amount} {asset} "
                               f"without a vault event ({ref})", tid))
                d, c = (om, susp) if e.kind == "transfer_in" else (susp, om)
                transfers.append(TransferSpec(tid, d, c, e.amount, reference=ref, **src))
        return transfers, alerts

    def _open_hold(self, hold_id: str) -> bool:
        t = Transfer.__table__.c
        with self.ledger.engine.connect() as conn:
            exists = conn.scalar(select(t.id).where(t.transfer_id == hold_id,
                                                    t.kind == Kind.PENDING))
            resolved = conn.scalar(select(t.id).where(t.pending_id == hold_id))
        return exists is not None and resolved is None

    # ------------------------------------------------------------------ commit & reorg
    def _commit(self, transfers: list[TransferSpec], alerts: list[tuple], pos: int, pos_hash: str,
                gen: int, blocks: dict[int, str]) -> None:
        name, now = self.cfg.name, datetime.now(UTC)

        def hook(conn: Connection) -> None:
            cur = Cursor.__table__
            vals = {"position": pos, "position_hash": pos_hash, "generation": gen,
                    "updated_at": now}
            if conn.execute(update(cur).where(cur.c.name == name).values(**vals)).rowcount == 0:
                conn.execute(insert(cur).values(name=name, **vals))
            rows = [{"cursor": name, "number": n, "hash": h} for n, h in blocks.items()]
            conn.execute(insert(CursorBlock.__table__), rows)
            if alerts:
                conn.execute(insert(Alert.__table__), [
                    {"kind": k, "message": m, "ref": r, "created_at": now} for k, m, r in alerts])

        self.ledger.post_all(transfers, hook=hook)
        for kind, message, _ in alerts:
            log.warning("alert %s: %s", kind, message)
            if self.on_alert:
                self.on_alert(kind, message)

    def _fork_point(self) -> tuple[int, str]:
        cb = CursorBlock.__table__.c
        with self.ledger.engine.connect() as conn:
            stored = conn.execute(select(cb.number, cb.hash).where(cb.cursor == self.cfg.name)
                                  .order_by(cb.number.desc())).all()
        for number, h in stored:
            if self._header(number)["hash"].lower() == h:
                return number, h
        raise RuntimeError(f"{self.cfg.name}: reorg deeper than every stored block")

    def _rollback(self, pos: int) -> None:
        fork, fork_hash = self._fork_point()
        cur = self.cursor()
        gen = (cur[2] if cur else 0) + 1
        t = Transfer.__table__.c
        reversed_ids = select(t.reverses_id).where(t.reverses_id.is_not(None))
        with self.ledger.engine.connect() as conn:
            orphans = conn.execute(
                select(t.transfer_id, t.debit_account_id, t.credit_account_id, t.amount, t.asset)
                .where(t.source == self.cfg.name, t.source_pos > fork,
                       t.kind.in_([Kind.SINGLE, Kind.POST]), t.transfer_id.not_in(reversed_ids))
                .order_by(t.id.desc())).all()
        specs = [TransferSpec(f"rev:{tid}", c, d, amt, reverses_id=tid,
                              reference=f"reorg: block > {fork} orphaned")
                 for tid, d, c, amt, _ in orphans]
        log.warning("%s: reorg at %d, fork point %d, reversing %d postings",
                    self.cfg.name, pos, fork, len(specs))
        name, now = self.cfg.name, datetime.now(UTC)
        alerts = [("reorg", f"reorg below block {pos}: fork point {fork}, {len(specs)} postings "
                   f"reversed", f"{name}:reorg:g{gen}")]

        def hook(conn: Connection) -> None:
            conn.execute(update(Cursor.__table__).where(Cursor.name == name).values(
                position=fork, position_hash=fork_hash, generation=gen, updated_at=now))
            cbt = CursorBlock.__table__
            conn.execute(delete(cbt).where(cbt.c.cursor == name, cbt.c.number > fork))
            conn.execute(insert(Alert.__table__), [
                {"kind": k, "message": m, "ref": r, "created_at": now} for k, m, r in alerts])

        self._post_reversals(specs, orphans, gen, hook)
        if self.on_alert:
            self.on_alert(*alerts[0][:2])

    def _post_reversals(self, specs: list[TransferSpec], orphans: list[Any], gen: int,
                        hook: Callable[[Connection], None]) -> None:
        """Post the reversals; if a client already spent an orphaned credit (a reorg deeper than
        the confirmation depth), cover the shortfall from suspense first, never going negative.

        The cover (``suspense -> client``) and the exact reversal (``client -> omnibus``) commit
        together: the omnibus matches the chain again, the client ends at zero, and the suspense
        account carries the amount to recover from the client, with a ``reorg_shortfall`` alert.
        """
        covers: list[TransferSpec] = []
        shortfalls: list[tuple[str, str, str]] = []
        for _attempt in range(5):
            try:
                self.ledger.post_all(covers + specs, hook=self._with_alerts(hook, shortfalls))
                break
            except InsufficientFunds:
                covers, shortfalls = self._covers(orphans, gen)
        else:
            raise RuntimeError(f"{self.cfg.name}: reorg reversal kept failing for lack of funds")
        for kind, message, _ in shortfalls:
            log.error("alert %s: %s", kind, message)
            if self.on_alert:
                self.on_alert(kind, message)

    def _covers(self, orphans: list[Any], gen: int) -> tuple[list[TransferSpec], list[tuple]]:
        """Suspense -> client transfers covering what each client lacks to be debited."""
        need: dict[int, int] = {}
        assets: dict[int, str] = {}
        for _tid, _debit, credit, amt, asset in orphans:  # reversal debits the original credit
            need[credit] = need.get(credit, 0) + amt
            assets[credit] = asset
        a = Account.__table__.c
        with self.ledger.engine.connect() as conn:
            clients = {i: (cp, dp, dpe) for i, cp, dp, dpe in conn.execute(
                select(a.id, a.credits_posted, a.debits_posted, a.debits_pending).where(
                    a.id.in_(sorted(need)), a.no_overdraft.is_(True)))}
        covers: list[TransferSpec] = []
        alerts: list[tuple[str, str, str]] = []
        for acc, (cp, dp, dpe) in sorted(clients.items()):
            short = need[acc] - (cp - dp - dpe)
            if short <= 0:
                continue
            asset = assets[acc]
            ref = f"{self.cfg.name}:reorg-shortfall:g{gen}:{acc}"
            covers.append(TransferSpec(ref, self.ledger.suspense_account(asset), acc, short,
                                       reference="reorg shortfall: orphaned credit already spent"))
            alerts.append(("reorg_shortfall", f"reorg reversed credits of account {acc} it had "
                           f"already spent: {short} {asset} posted to suspense to recover", ref))
        return covers, alerts

    @staticmethod
    def _with_alerts(hook: Callable[[Connection], None],
                     alerts: list[tuple[str, str, str]]) -> Callable[[Connection], None]:
        def run(conn: Connection) -> None:
            hook(conn)
            if alerts:
                now = datetime.now(UTC)
                conn.execute(insert(Alert.__table__), [
                    {"kind": k, "message": m, "ref": r, "created_at": now} for k, m, r in alerts])
        return run
