"""The transfer mirror: value movements of the followed chain, read through our own node.

What is mirrored (and nothing else):

* ERC-20 ``Transfer`` logs emitted by the *watched token contracts* only (USDC/USDT at their
  configured addresses). Anyone can emit a ``Transfer`` log from a contract of their own; the
  logs are asked for by emitter address and checked again here, so a fake token never enters.
  A log that is not a well-formed ``Transfer(address,address,uint256)`` (three topics, 32 bytes
  of data) is skipped and counted.
* The ETH value of every *successful* transaction of each block (its receipt's status is read,
  one ``eth_getBlockReceipts`` per block: a reverted transaction moved nothing). ETH moved by
  contracts internally (no log, no trace API on most nodes) is not seen: documented limit.

Dust: a movement below :attr:`MirrorConfig.dust` of its asset is not stored (counted in
``skipped_dust``): spamming dust to an address costs the spammer gas per transfer and costs us
nothing, so it cannot grow the graph. Default thresholds: 1 USDC/USDT, 0.001 ETH.

Cursor and reorgs (the shape of :mod:`keeper.chain.follower`): a range is read only once it has
``confirmations`` blocks on top of it (default 1: forensics wants seconds, not the ledger's 12
blocks, and repairs reorgs instead); logs are read first, then every block, which must chain to
the stored cursor hash and to each other, and every log's block hash must match. A block whose
``logsBloom`` admits a watched ``Transfer`` but for which the node returned no log is re-read
from its receipts. The range's transfers, its block hashes and the cursor move commit in one
transaction by compare-and-set, so a crash never loses nor doubles a transfer. When the next
block does not chain to the cursor, the fork point is found among the stored block hashes and
every transfer above it is deleted with the cursor moved back, in one transaction; the new
branch is then read like any range.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from keeper.assets import ZERO_ADDRESS
from keeper.chain import ChainReader, Query, RpcError
from keeper.chain.events import TRANSFER
from keeper.forensics.models import BlockRow, CursorRow, TransferRow
from keeper.ledger.db import WRITE

log = logging.getLogger(__name__)
CURSOR = "mirror"
CAUGHT_UP = -1
KEEP_BLOCKS = 1024  # block hashes kept for finding a fork point
DEFAULT_DUST = {"USDC": 10**6, "USDT": 10**6, "ETH": 10**15}


@dataclass
class MirrorConfig:
    """What to mirror: ``tokens`` maps watched token address -> asset symbol (ETH is always
    followed as native value); ``dust`` the smallest amount stored per asset (base units)."""

    tokens: Mapping[str, str]
    confirmations: int = 1
    start_block: int = 0
    range_size: int = 50
    dust: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_DUST))


@dataclass(frozen=True, slots=True)
class Movement:
    """One value movement read from the chain."""

    block_number: int
    block_hash: str
    block_time: datetime
    tx_hash: str
    log_index: int  # -1: the transaction's own ETH value
    asset: str
    token: str
    sender: str
    recipient: str
    amount: int


class ChainMovedError(RuntimeError):
    """The node's answers disagreed with each other (the chain moved under the reads)."""


class TransferMirror:
    """Mirrors the value movements of one chain into ``forensics_transfers`` on ``engine``."""

    def __init__(self, engine: Engine, reader: ChainReader, config: MirrorConfig) -> None:
        self.engine, self.reader, self.cfg = engine, reader, config
        self.tokens = {a.lower(): s for a, s in config.tokens.items() if int(a, 16)}
        self.query = Query(sorted(self.tokens), [TRANSFER]) if self.tokens else None
        self.skipped_dust = 0
        self.skipped_malformed = 0
        self.reorgs = 0

    # ------------------------------------------------------------------ state
    def cursor(self) -> tuple[int, str] | None:
        """(block number, block hash) of the last mirrored block, or None before the first."""
        with self.engine.connect() as conn:
            row = conn.execute(select(CursorRow.position, CursorRow.position_hash)
                               .where(CursorRow.name == CURSOR)).first()
        return None if row is None else (int(row[0]), row[1])

    def run_until_synced(self, max_steps: int = 10_000) -> int:
        """Step until caught up; returns movements stored."""
        total = 0
        for _ in range(max_steps):
            n = self.step()
            if n == CAUGHT_UP:
                break
            total += n
        return total

    def step(self) -> int:
        """Mirror one range (or repair one reorg). Returns movements stored, or
        :data:`CAUGHT_UP` when no block has enough confirmations yet."""
        cur = self.cursor()
        pos, pos_hash = cur if cur is not None else (self.cfg.start_block - 1, "")
        safe = self.reader.head() - self.cfg.confirmations
        if safe <= pos:
            return CAUGHT_UP
        end = min(safe, pos + self.cfg.range_size)
        try:
            moves, blocks = self._read(pos + 1, end)
        except ChainMovedError as exc:
            log.info("forensics mirror: %s; retrying", exc)
            return 0
        if cur is not None and blocks[0]["parentHash"].lower() != pos_hash:
            self._rollback(pos, pos_hash)
            return 0
        hashes = {int(b["number"], 16): b["hash"].lower() for b in blocks}
        self._commit(cur, moves, hashes, end)
        return len(moves)

    # ------------------------------------------------------------------ reads
    def _read(self, start: int, end: int) -> tuple[list[Movement], list[dict[str, Any]]]:
        logs = self.reader.logs(start, end, self.query) if self.query else []
        blocks = self.reader.batch([("eth_getBlockByNumber", [hex(n), True])
                                    for n in range(start, end + 1)])
        if any(b is None for b in blocks):
            raise ChainMovedError(f"node lacks a block in {start}..{end}")
        for prev, b in zip(blocks, blocks[1:], strict=False):
            if b["parentHash"].lower() != prev["hash"].lower():
                raise ChainMovedError(f"blocks {start}..{end} do not chain")
        by_number = {int(b["number"], 16): b for b in blocks}
        if any(by_number[int(lg["blockNumber"], 16)]["hash"].lower() != lg["blockHash"].lower()
               for lg in logs):
            raise ChainMovedError("a log's block hash differs from its block's")
        logs = [lg for lg in logs if not lg.get("removed")] + self._missed(blocks, logs)
        moves = [m for lg in logs if (m := self._erc20(lg, by_number)) is not None]
        moves += self._native(blocks)
        return sorted(moves, key=lambda m: (m.block_number, m.log_index, m.tx_hash)), blocks

    def _missed(self, blocks: list[dict[str, Any]], logs: list[dict[str, Any]]) -> list[dict]:
        """Logs of blocks whose bloom admits a watched Transfer but got none from the node."""
        if self.query is None:
            return []
        seen = {int(lg["blockNumber"], 16) for lg in logs}
        out: list[dict[str, Any]] = []
        for b in blocks:
            n = int(b["number"], 16)
            if n in seen or not self.query.maybe_in(int(b["logsBloom"], 16)):
                continue
            got = [lg for lg in self.reader.receipt_logs(b["hash"]) if self.query.matches(lg)]
            if got:
                log.warning("forensics mirror: node returned no logs for block %d; receipts "
                            "hold %d", n, len(got))
            out += [{**lg, "blockNumber": b["number"], "blockHash": b["hash"]} for lg in got]
        return out

    def _erc20(self, lg: dict[str, Any], blocks: Mapping[int, dict[str, Any]]) -> Movement | None:
        token = lg["address"].lower()
        asset = self.tokens.get(token)
        topics = [t.lower() for t in lg["topics"]]
        data = lg.get("data") or "0x"
        if asset is None:  # never asked for; a node answering it anyway is not believed
            return None
        if len(topics) != 3 or topics[0] != TRANSFER or len(data) != 66:
            self.skipped_malformed += 1
            return None
        amount = int(data, 16)
        if amount < self.cfg.dust.get(asset, 1):
            self.skipped_dust += 1
            return None
        number = int(lg["blockNumber"], 16)
        return Movement(number, lg["blockHash"].lower(), _time(blocks[number]),
                        lg["transactionHash"].lower(), int(lg["logIndex"], 16), asset, token,
                        "0x" + topics[1][-40:], "0x" + topics[2][-40:], amount)

    def _native(self, blocks: list[dict[str, Any]]) -> list[Movement]:
        """The ETH value of each successful transaction above dust (receipts read for the
        blocks holding one)."""
        floor = self.cfg.dust.get("ETH", 1)
        candidates = []
        for b in blocks:
            for tx in b["transactions"]:
                value = int(tx.get("value") or "0x0", 16)
                if value and tx.get("to"):
                    if value < floor:
                        self.skipped_dust += 1
                    else:
                        candidates.append((b, tx, value))
        ok = self._succeeded({b["hash"].lower(): b for b, _, _ in candidates},
                             [tx["hash"] for _, tx, _ in candidates])
        return [Movement(int(b["number"], 16), b["hash"].lower(), _time(b), tx["hash"].lower(),
                         -1, "ETH", ZERO_ADDRESS, tx["from"].lower(), tx["to"].lower(), value)
                for b, tx, value in candidates if tx["hash"].lower() in ok]

    def _succeeded(self, blocks: Mapping[str, dict[str, Any]], hashes: list[str]) -> set[str]:
        """Hashes of the successful transactions among ``hashes`` (of ``blocks``): one
        ``eth_getBlockReceipts`` per block, or each transaction's receipt where the node lacks
        it; every receipt must belong to the block read."""
        if not hashes:
            return set()
        try:
            receipts = [r for rs in self.reader.batch([("eth_getBlockReceipts", [h])
                                                       for h in blocks]) for r in rs or ()]
        except RpcError:
            receipts = self.reader.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        mine = {h.lower() for h in hashes}
        got = {r["transactionHash"].lower(): r for r in receipts if r is not None}
        for h in mine:
            r = got.get(h)
            if r is None or r["blockHash"].lower() not in blocks:
                raise ChainMovedError(f"receipt of {h} is not in the blocks read")
        return {h for h in mine if int(got[h].get("status") or "0x0", 16) == 1}

    # ------------------------------------------------------------------ writes
    def _commit(self, cur: tuple[int, str] | None, moves: list[Movement],
                hashes: dict[int, str], end: int) -> None:
        now = datetime.now(UTC)
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            if cur is None:
                conn.execute(insert(CursorRow).values(name=CURSOR, position=end,
                                                      position_hash=hashes[end], updated_at=now))
            else:
                moved = conn.execute(update(CursorRow).where(
                    CursorRow.name == CURSOR, CursorRow.position == cur[0],
                    CursorRow.position_hash == cur[1]).values(
                    position=end, position_hash=hashes[end], updated_at=now)).rowcount
                if moved != 1:
                    raise ChainMovedError("another mirror moved the cursor")
            conn.execute(delete(BlockRow).where(BlockRow.number >= min(hashes)))
            conn.execute(insert(BlockRow), [{"number": n, "hash": h} for n, h in hashes.items()])
            conn.execute(delete(BlockRow).where(BlockRow.number <= end - KEEP_BLOCKS))
            if moves:
                conn.execute(insert(TransferRow), [_row(m) for m in moves])

    def _rollback(self, pos: int, pos_hash: str) -> None:
        """Delete what a reorg orphaned and move the cursor back to the fork point."""
        fork = self._fork_point()
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            moved = conn.execute(update(CursorRow).where(
                CursorRow.name == CURSOR, CursorRow.position == pos,
                CursorRow.position_hash == pos_hash).values(
                position=fork[0], position_hash=fork[1], updated_at=datetime.now(UTC))).rowcount
            if moved != 1:
                return
            gone = conn.execute(delete(TransferRow).where(
                TransferRow.block_number > fork[0])).rowcount
            conn.execute(delete(BlockRow).where(BlockRow.number > fork[0]))
        self.reorgs += 1
        log.warning("forensics mirror: reorg below block %d; fork point %d, %d transfers "
                    "dropped", pos + 1, fork[0], gone)

    def _fork_point(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            stored = conn.execute(select(BlockRow.number, BlockRow.hash)
                                  .order_by(BlockRow.number.desc())).all()
        for number, h in stored:
            try:
                if self.reader.header(number)["hash"].lower() == h:
                    return int(number), h
            except RpcError:
                continue
        raise RuntimeError("forensics mirror: reorg deeper than every stored block")


def _time(block: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(block["timestamp"], 16), UTC)


def _row(m: Movement) -> dict[str, Any]:
    return {"block_number": m.block_number, "block_hash": m.block_hash,
            "block_time": m.block_time, "tx_hash": m.tx_hash, "log_index": m.log_index,
            "asset": m.asset, "token": m.token, "sender": m.sender, "recipient": m.recipient,
            "amount": str(m.amount)}


def prune_transfers(engine: Engine, older_than: datetime, batch: int = 50_000) -> int:
    """Delete mirrored movements with a block time before ``older_than`` (retention), in
    batches so a large delete never holds the write lock long; returns how many."""
    t = TransferRow.__table__.c
    total = 0
    while True:
        with engine.connect().execution_options(**WRITE) as conn, conn.begin():
            ids = list(conn.scalars(select(t.id).where(t.block_time < older_than)
                                    .order_by(t.id).limit(batch)))
            if ids:
                conn.execute(delete(TransferRow).where(t.id.in_(ids)))
        total += len(ids)
        if len(ids) < batch:
            return total


def stored_transfers(conn: Connection, after: int, limit: int) -> list[tuple[int, Movement]]:
    """Mirrored movements with row id above ``after``, oldest first (the pipeline's source)."""
    t = TransferRow.__table__.c
    rows = conn.execute(select(TransferRow.__table__).where(t.id > after)
                        .order_by(t.id).limit(limit)).all()
    return [(int(r.id), movement(r)) for r in rows]


def movement(r: Any) -> Movement:
    """A stored row as a :class:`Movement`."""
    at = r.block_time if r.block_time.tzinfo else r.block_time.replace(tzinfo=UTC)
    return Movement(int(r.block_number), r.block_hash, at, r.tx_hash, int(r.log_index), r.asset,
                    r.token, r.sender, r.recipient, int(r.amount))
