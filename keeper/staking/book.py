"""The staking sub-ledger: account names, the mirrored pool model, and the postings of each pool
event (pure: no I/O but account look-ups).

Accounts (ETH), one naming rule each, here:

* ``staking:<pool>`` (:func:`staking_location`): the omnibus account of what our stake in the
  pool is worth on chain, our positions' share value plus our open requests' queue value,
  exactly as the contract would pay them (:func:`~keeper.staking.pool.share_value`,
  :func:`~keeper.staking.pool.queue_value`). After every applied event it equals that value.
* ``<client>@staking:<pool>`` (:func:`staked_owner`): the client's staked holding (principal +
  rewards - slashes - claims), a client account (never negative) beside its liquid ETH.
* ``remainder@staking:<pool>`` (:func:`remainder_owner`, a suspense-kind account): the rounding
  remainder. Rewards are split pro rata to the positions' shares, each part rounded down; what
  is left goes here, so client rewards + remainder == the contract's rewards for our stake,
  exactly. The share arithmetic's own rounding (a deposit's shares worth a wei less than paid,
  a request valued a wei apart) lands here too, and so does the leftover of a client whose
  last position is closed. Nothing is lost or created: the remainder is what the clients'
  accounts and the chain value differ by, never more.
* ``staking-operator:<address>`` (:func:`operator_location`): the operator key's wallet, from
  which deposits leave and into which claims pay.

Who gets the dust on chain: every division in the pool rounds down, in favour of the holders
who stay; the last holder out of each pool takes it (see the contract's NatSpec).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from keeper.ledger import AccountKind, Kind, Ledger, TransferSpec
from keeper.staking.pool import PoolEvent, allocate, queue_value, share_value

ETH = "ETH"
UNATTRIBUTED = ""  # a position of ours no operation explains: its share goes to the remainder


def staking_location(pool: str) -> str:
    """The omnibus location of our stake in ``pool`` (``staking:0x..``)."""
    return f"staking:{pool.lower()}"


def staked_owner(client_id: str, pool: str) -> str:
    """The owner of ``client_id``'s staked holding in ``pool``."""
    return f"{client_id}@{staking_location(pool)}"


def remainder_owner(pool: str) -> str:
    """The owner of ``pool``'s rounding remainder account."""
    return f"remainder@{staking_location(pool)}"


def operator_location(address: str) -> str:
    """The omnibus location of the operator key's wallet."""
    return f"staking-operator:{address.lower()}"


def hold_id(op_id: str) -> str:
    """The ledger hold of deposit operation ``op_id`` (client liquid -> staked)."""
    return f"staking:{op_id}:hold"


class Accounts:
    """Ledger account ids of one pool and operator (created on first use)."""

    def __init__(self, ledger: Ledger, pool: str, operator: str) -> None:
        self.ledger, self.pool = ledger, pool
        self.om = ledger.omnibus_account(ETH, staking_location(pool))
        self.funding = ledger.omnibus_account(ETH, operator_location(operator))
        self.remainder = ledger.open_account(AccountKind.SUSPENSE, ETH, remainder_owner(pool))
        self.suspense = ledger.suspense_account(ETH)

    def staked(self, client_id: str) -> int:
        """The client's staked account (the remainder for unattributed positions)."""
        if client_id == UNATTRIBUTED:
            return self.remainder
        return self.ledger.client_account(staked_owner(client_id, self.pool), ETH)

    def liquid(self, client_id: str) -> int:
        """The client's liquid ETH account (suspense for unattributed positions)."""
        if client_id == UNATTRIBUTED:
            return self.suspense
        return self.ledger.client_account(client_id, ETH)


@dataclass
class Position:
    """One of our positions (mirrored)."""

    client_id: str
    shares: int
    principal: int
    rewards: int = 0
    slashed: int = 0
    locked_until: int = 0
    deposit_tx: str = ""


@dataclass
class Request:
    """One of our withdrawal requests (mirrored)."""

    position_id: int
    client_id: str
    units: int
    amount: int
    claimable_at: int
    slashed: int = 0
    paid: int | None = None
    status: str = "unbonding"


@dataclass
class Model:
    """The pool's state and our positions and requests, as of the last applied event."""

    pooled: int = 0
    total_shares: int = 0
    unbonding_assets: int = 0
    unbonding_units: int = 0
    positions: dict[int, Position] = field(default_factory=dict)
    requests: dict[int, Request] = field(default_factory=dict)

    def request_value(self, request_id: int) -> int:
        """What the open request would be paid now (0 once claimed)."""
        r = self.requests[request_id]
        if r.status != "unbonding":
            return 0
        return queue_value(r.units, self.unbonding_assets, self.unbonding_units)

    def active_value(self) -> int:
        """What all our shares would withdraw now."""
        return share_value(sum(p.shares for p in self.positions.values()), self.pooled,
                           self.total_shares)

    def value(self) -> int:
        """Our stake's value on chain: shares plus open requests (what the omnibus holds)."""
        return self.active_value() + sum(self.request_value(r) for r in self.requests)

    def client_open(self, client_id: str) -> bool:
        """True while the client has shares or an unclaimed request."""
        return any(p.shares for p in self.positions.values() if p.client_id == client_id) or any(
            r.status == "unbonding" for r in self.requests.values() if r.client_id == client_id)


@dataclass
class OpRef:
    """A keeper operation a mined transaction belongs to."""

    op_id: str
    kind: str
    client_id: str
    amount: int


@dataclass
class Outcome:
    """What one event does: its postings (all or nothing), alerts, figures and allocations."""

    event: PoolEvent
    transfers: list[TransferSpec] = field(default_factory=list)
    alerts: list[tuple[str, str, str]] = field(default_factory=list)
    om_delta: int = 0  # the change of the omnibus (== the change of our stake's value)
    funding_delta: int = 0  # debit (+) / credit (-) of the operator wallet
    contract_amount: int = 0
    allocated: int = 0
    remainder: int = 0
    allocations: dict[str, int] = field(default_factory=dict)
    done_ops: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)


class Book:
    """Applies pool events to the model and turns them into ledger postings."""

    def __init__(self, accounts: Accounts, operator: str, model: Model,
                 staked_balance: dict[str, int]) -> None:
        self.acc, self.operator, self.model = accounts, operator.lower(), model
        self.staked_balance = staked_balance  # client -> ledger balance incl. this batch

    def apply(self, ev: PoolEvent, op: OpRef | None) -> Outcome:
        """The outcome of ``ev`` (``op``: the keeper operation whose transaction emitted it)."""
        out, m = Outcome(ev), self.model
        before = m.value()
        n = [0]

        def post(debit: int, credit: int, amount: int, **kw: object) -> None:
            if amount == 0 and kw.get("kind") is not Kind.POST:
                return
            if amount < 0:
                debit, credit, amount = credit, debit, -amount
            n[0] += 1
            out.transfers.append(TransferSpec(f"staking:{ev.key}:{n[0]}", debit, credit, amount,
                                              reference=f"{ev.kind} block {ev.block} tx "
                                              f"{ev.tx_hash} log {ev.log_index}", **kw))

        ours = str(ev.fields.get("owner", "")).lower() == self.operator
        explained = 0
        if ev.kind == "Deposited":
            m.pooled, m.total_shares = ev["pooled"], ev["total_shares"]
            if ours:
                explained = self._deposit(ev, op, out, post)
        elif ev.kind == "WithdrawalRequested":
            m.pooled, m.total_shares = ev["pooled"], ev["total_shares"]
            m.unbonding_assets, m.unbonding_units = ev["unbonding_assets"], ev["unbonding_units"]
            pos = m.positions.get(ev["position"]) if ours else None
            if pos is not None:
                pos.shares -= ev["shares"]
                m.requests[ev["request"]] = Request(ev["position"], pos.client_id, ev["units"],
                                                    ev["amount"], ev["claimable_at"])
                if op is not None:
                    out.done_ops[op.op_id] = (ev["position"], ev["request"])
        elif ev.kind == "WithdrawalClaimed":
            m.unbonding_assets, m.unbonding_units = ev["unbonding_assets"], ev["unbonding_units"]
            req = m.requests.get(ev["request"]) if ours else None
            if req is not None and req.status == "unbonding":
                explained = -self._claim(ev, req, op, out, post)
        elif ev.kind == "RewardsAccrued":
            m.pooled, m.total_shares = ev["pooled"], ev["total_shares"]
            reward = m.value() - before
            self._distribute(reward, out, post)
            explained = reward
        elif ev.kind == "Slashed":
            explained = -self._slash(ev, out, post)
        residual = m.value() - before - explained
        post(self.acc.om, self.acc.remainder, residual)  # share-math rounding
        out.remainder += residual
        out.om_delta = m.value() - before
        return out

    # ------------------------------------------------------------------ kinds
    def _deposit(self, ev: PoolEvent, op: OpRef | None, out: Outcome, post) -> int:
        amount = ev["amount"]
        client = op.client_id if op is not None and op.kind == "deposit" else UNATTRIBUTED
        self.model.positions[ev["position"]] = Position(
            client, ev["shares"], amount, locked_until=ev["locked_until"], deposit_tx=ev.tx_hash)
        post(self.acc.om, self.acc.funding, amount)
        out.funding_delta -= amount
        if client == UNATTRIBUTED:
            out.alerts.append(("staking_unattributed", f"deposit of {amount} wei into the pool "
                               f"from the operator key by no keeper operation (position "
                               f"{ev['position']}, tx {ev.tx_hash}): its value is booked to "
                               "the remainder account", f"staking_unattributed:{ev.key}"))
            post(self.acc.suspense, self.acc.remainder, amount)  # whose ETH it was: unknown
            return amount
        assert op is not None  # noqa: S101 - client is set only from an operation
        post(0, 0, amount, kind=Kind.POST, pending_id=hold_id(op.op_id))  # liquid -> staked
        self.staked_balance[client] = self.staked_balance.get(client, 0) + amount
        out.done_ops[op.op_id] = (ev["position"], None)
        return amount

    def _claim(self, ev: PoolEvent, req: Request, op: OpRef | None, out: Outcome, post) -> int:
        paid, client = ev["amount"], req.client_id
        req.status, req.paid = "claimed", paid
        post(self.acc.funding, self.acc.om, paid)
        out.funding_delta += paid
        post(self.acc.staked(client), self.acc.liquid(client), paid)
        self.staked_balance[client] = self.staked_balance.get(client, 0) - paid
        if paid < req.amount:
            out.alerts.append(("staking_claim_short", f"claim of request {ev['request']} paid "
                               f"{paid} wei of the {req.amount} requested (slashed while "
                               f"unbonding: {req.slashed}); client {client!r} booked what was "
                               "paid", f"staking_claim_short:{ev.key}"))
        left = self.staked_balance.get(client, 0)  # the client's share-math rounding
        # left < 0: paid more than booked; the pool's rounding moved value to this request after
        # it was booked (e.g. a claim before it raised the queue's price by a wei), and that gain
        # went to the remainder as it arose: it comes back from there (post swaps the sides).
        # left > 0 once the client has nothing open: the rounding left over goes to the remainder
        if client != UNATTRIBUTED and (left < 0 or (left > 0 and not self.model.client_open(client))):
            post(self.acc.staked(client), self.acc.remainder, left)
            self.staked_balance[client] = 0
            out.remainder += left
        if op is not None:
            out.done_ops[op.op_id] = (req.position_id, ev["request"])
        return paid

    def _distribute(self, reward: int, out: Outcome, post) -> None:
        m = self.model
        weights = {str(pid): p.shares for pid, p in m.positions.items()}
        parts, rest = allocate(reward, weights)
        per_client: dict[str, int] = defaultdict(int)
        for pid, part in parts.items():
            pos = m.positions[int(pid)]
            pos.rewards += part
            per_client[pos.client_id] += part
        post(self.acc.om, self.acc.remainder, rest)
        for client, part in sorted(per_client.items()):
            post(self.acc.om, self.acc.staked(client), part)
            self.staked_balance[client] = self.staked_balance.get(client, 0) + part
        out.contract_amount, out.allocated, out.remainder = reward, reward - rest, rest
        out.allocations = dict(per_client)

    def _slash(self, ev: PoolEvent, out: Outcome, post) -> int:
        m = self.model
        active_before = m.active_value()
        open_before = {rid: m.request_value(rid) for rid in m.requests}
        m.pooled, m.total_shares = ev["pooled"], ev["total_shares"]
        m.unbonding_assets, m.unbonding_units = ev["unbonding_assets"], ev["unbonding_units"]
        loss = active_before - m.active_value()
        parts, rest = allocate(loss, {str(pid): p.shares for pid, p in m.positions.items()})
        per_client: dict[str, int] = defaultdict(int)
        for pid, part in parts.items():
            pos = m.positions[int(pid)]
            pos.slashed += part
            per_client[pos.client_id] += part
        total = loss
        for rid, value in open_before.items():
            cut = value - m.request_value(rid)
            m.requests[rid].slashed += cut
            per_client[m.requests[rid].client_id] += cut
            total += cut
        post(self.acc.remainder, self.acc.om, rest)
        for client, part in sorted(per_client.items()):
            post(self.acc.staked(client), self.acc.om, part)
            self.staked_balance[client] = self.staked_balance.get(client, 0) - part
        out.contract_amount, out.allocated, out.remainder = -total, -(total - rest), -rest
        out.allocations = {c: -a for c, a in per_client.items() if a}
        return total


def fallback(out: Outcome, accounts: Accounts, why: str) -> Outcome:
    """The outcome of an event whose postings the ledger refused: the omnibus and the operator
    wallet still follow the chain, the difference is parked in suspense and alerted, so one
    event can never block the ones after it."""
    ev, tid = out.event, f"staking:{out.event.key}:fallback"
    transfers = []
    for n, (account, delta) in enumerate(((accounts.om, out.om_delta),
                                          (accounts.funding, out.funding_delta))):
        if delta:
            debit, credit = (account, accounts.suspense) if delta > 0 else (accounts.suspense,
                                                                              account)
            transfers.append(TransferSpec(f"{tid}:{n}", debit, credit, abs(delta),
                                          reference=f"{ev.kind} tx {ev.tx_hash} (refused: {why})"))
    alert = ("staking_posting_refused", f"postings of {ev.kind} (tx {ev.tx_hash} log "
             f"{ev.log_index}) refused by the ledger ({why}): omnibus and operator moves "
             "parked in suspense for operations to resolve", f"staking_refused:{ev.key}")
    return replace(out, transfers=transfers, alerts=[*out.alerts, alert], allocations={})
