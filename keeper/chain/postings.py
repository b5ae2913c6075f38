"""Ledger postings of decoded chain events: one all-or-nothing group per event.

Every event becomes a :class:`Group` (its transfers and alerts). Rules, in one place:

* Zero amounts (address-poisoning ``transferFrom(vault, x, 0)`` and the like) post nothing and
  are recorded as ``ignored_zero_value`` alerts.
* A token ``Transfer`` touching a vault is *explained* by the vault events of the same
  transaction, token, vault and direction, up to their amounts (so USDT's fee-split transfers of a
  withdrawal or sweep are explained by its ``amount``); whatever no vault event explains goes to
  suspense with an alert (dust, direct sends).
* Withdrawals settle their hold, found by ``op_id`` (the first hold or a reorg's re-hold); more
  than held settles the hold in full and sends the excess to suspense; an expired, resolved or
  missing hold sends the whole amount to suspense. Cancelled / expired operations void the hold.
* ``Migrated`` moves the asset between the two vaults' omnibus accounts (client balances do not
  change); ``MigrationReceived`` is explained by its predecessor's ``Migrated``.
* ``DestroyedBlackFunds`` of a vault: omnibus -> suspense, alert ``funds_destroyed``.
* A ``Deposit``'s posting names its sender: its reference is ``<where> from <sender>``
  (:func:`deposit_reference`), read back by :func:`deposit_sender`, so the addresses a client's
  coins came from can be screened again later (a tainted source on a sell).
* Tier accounts are named by :func:`tier_location` (``tier<n>:<address>``), one rule for the
  sweep, the tier moves and reconciliation. A ``Sweep`` moves vault omnibus -> tier omnibus; a
  ``tier_transfer`` to another tier moves tier omnibus -> tier omnibus (the warm <-> cold
  SafeTxs); one to anyone else (not a vault: those are deposits) moves tier omnibus -> suspense
  with a ``tier_outflow`` alert. A ``Deposit`` whose sender is a tier (the top-ups and
  rebalancing into hot, client reference :data:`TOPUP_CLIENT_REF`) is an internal move tier
  omnibus -> vault omnibus, never a client credit; a top-up reference from anyone else goes to
  suspense (``topup_not_from_tier``). A tier's direct token transfer into the vault, which no
  vault event explains, is the same internal move.
* :func:`fallback` turns any group the ledger refuses into a suspense posting (or, if even that
  is refused, an alert alone): an outsider's event can never block the events after it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eth_utils import keccak

from keeper.audit import AuditRecord
from keeper.chain import events as ev
from keeper.ledger import Kind, Ledger, TransferSpec, vault_location

Alert3 = tuple[str, str, str]
_SENDER = re.compile(r" from (0x[0-9a-f]{40})\Z")
TOPUP_CLIENT_REF = keccak(text="strongroom:treasury:cold-topup")
"""The client reference of the treasury's deposits from a tier into the vault (no client's)."""
_TOPUP_REF = "0x" + TOPUP_CLIENT_REF.hex()


def credited_client(e: ev.Event, refs: Mapping[str, str], tiers: Container[str]) -> str | None:
    """The client a vault deposit credits: the owner of its reference, unless one of the vault's
    tier wallets sent it (an internal move, whatever its reference). The one rule of the
    follower's postings and of the unconfirmed-deposit pass."""
    return None if e.sender in tiers else refs.get(e.client_ref)


def tier_location(tier: int, address: str) -> str:
    """The omnibus location of tier ``tier``'s wallet at ``address`` (``tier<n>:0x..``)."""
    return f"tier{tier}:{address.lower()}"


def deposit_reference(where: str, sender: str) -> str:
    """The ledger reference of a deposit at ``where`` (block, tx, log) sent by ``sender``."""
    return f"{where} from {sender.lower()}"


def deposit_sender(reference: str | None) -> str | None:
    """The sender address (lower-case) a :func:`deposit_reference` names, else ``None``."""
    found = _SENDER.search(reference or "")
    return found.group(1) if found else None


@dataclass
class Group:
    """The transfers (all or nothing) and alerts of one event."""

    event: ev.Event
    tid: str
    transfers: list[TransferSpec] = field(default_factory=list)
    alerts: list[Alert3] = field(default_factory=list)


class Mapper:
    """Maps one range's events to groups for follower ``name`` at generation ``gen``."""

    def __init__(self, ledger: Ledger, name: str, tokens: dict[str, str], gen: int,
                 tiers: Mapping[str, int] | None = None) -> None:
        self.lg, self.name, self.tokens, self.gen = ledger, name, tokens, gen
        self.tiers = dict(tiers or {})  # lower-case address -> tier number
        self.refs = ledger.client_refs()
        self.now = datetime.now(UTC)

    def om(self, asset: str, vault: str) -> int:
        """The omnibus account of ``asset`` held in ``vault``."""
        return self.lg.omnibus_account(asset, vault_location(vault))

    def tier_om(self, asset: str, address: str) -> int:
        """The omnibus account of ``asset`` at the tier wallet ``address`` (a key of tiers)."""
        return self.lg.omnibus_account(asset, tier_location(self.tiers[address], address))

    def groups(self, decoded: Sequence[tuple[ev.Event, str]]) -> list[Group]:
        """One group per (event, transfer id)."""
        budget: Counter[tuple[str, str, str, str]] = Counter()
        for e, _ in decoded:
            if e.kind in ("deposit", "withdrawal", "sweep", "migrated"):
                budget[(e.tx_hash, e.token, e.vault, e.direction)] += e.amount
            if e.kind == "migrated":  # the successor's inflow of the same move
                budget[(e.tx_hash, e.token, e.to, "in")] += e.amount
        return [self._one(e, tid, budget) for e, tid in decoded]

    def _one(self, e: ev.Event, tid: str, budget: Counter) -> Group:
        g = Group(e, tid)
        where = f"block {e.block_number} tx {e.tx_hash} log {e.log_index}"
        if e.kind in ("cancelled", "expired"):
            return self._void(g, where)
        if e.kind == "execution":  # the follower could not read what it paid (see follower)
            g.alerts.append(("tier_execution_unread", f"execution {e.op_id} of tier {e.tier} "
                             f"wallet {e.sender} not read from its transaction: its ETH "
                             f"payments are not mirrored, type 1 will show them ({where})", tid))
            return g
        asset = self.tokens.get(e.token)
        if asset is None:
            g.alerts.append(("unknown_token", f"{e.kind} of {e.amount} units of unconfigured "
                             f"token {e.token} ({where})", tid))
            return g
        if e.amount == 0:
            g.alerts.append(("ignored_zero_value", f"zero-value {e.kind} of {asset} ({where})",
                             tid))
            return g
        susp = self.lg.suspense_account(asset)
        if e.kind == "tier_transfer":
            return self._tier_transfer(g, e, asset, susp, where)
        om = self.om(asset, e.vault)
        src = {"reference": deposit_reference(where, e.sender) if e.kind == "deposit" else where,
               "source": self.name, "source_pos": e.block_number}

        def single(debit: int, credit: int, amount: int, n: int = 0) -> None:
            g.transfers.append(TransferSpec(f"{tid}:{n}" if n else tid, debit, credit, amount,
                                            **src))

        if e.kind == "deposit":
            client = credited_client(e, self.refs, self.tiers)
            if e.sender in self.tiers:  # a top-up / rebalancing: internal, whatever its ref
                single(om, self.tier_om(asset, e.sender), e.amount)
            elif e.client_ref == _TOPUP_REF:
                g.alerts.append(("topup_not_from_tier", f"top-up deposit of {e.amount} {asset} "
                                 f"from {e.sender}, not a tier wallet: posted to suspense "
                                 f"({where})", tid))
                single(om, susp, e.amount)
            elif client is None:
                g.alerts.append(("unknown_client_ref", f"deposit of {e.amount} {asset} with "
                                 f"unknown client_ref {e.client_ref} ({where})", tid))
                single(om, susp, e.amount)
            else:
                single(om, self.lg.client_account(client, asset), e.amount)
        elif e.kind == "withdrawal":
            self._settle(g, e, asset, om, susp, src)
        elif e.kind == "sweep":
            single(self.lg.omnibus_account(asset, tier_location(e.tier, e.to)), om, e.amount)
        elif e.kind == "migrated":
            single(self.om(asset, e.to), om, e.amount)
        elif e.kind == "destroyed":
            g.alerts.append(("funds_destroyed", f"{e.amount} {asset} of vault {e.vault} "
                             f"destroyed by the token issuer ({where})", tid))
            single(susp, om, e.amount)
        else:  # transfer_in / transfer_out / migration_received: only what nothing explains
            key = (e.tx_hash, e.token, e.vault, e.direction)
            covered = min(budget[key], e.amount)
            budget[key] -= covered
            rest = e.amount - covered
            if rest and e.kind == "transfer_in" and e.sender in self.tiers:
                single(om, self.tier_om(asset, e.sender), rest)  # a tier paying the vault
            elif rest:
                g.alerts.append((f"unattributed_{e.kind}", f"{e.kind} of {rest} {asset} "
                                 f"without a vault event ({where})", tid))
                single(*((om, susp) if e.direction == "in" else (susp, om)), rest)
        return g

    def _tier_transfer(self, g: Group, e: ev.Event, asset: str, susp: int, where: str) -> Group:
        """A tier wallet paid ``e.to``: another tier (a move) or anyone else (suspense)."""
        src = {"reference": f"{where} safe {e.sender}", "source": self.name,
               "source_pos": e.block_number}
        frm = self.tier_om(asset, e.sender)
        if e.to in self.tiers:
            g.transfers.append(TransferSpec(g.tid, self.tier_om(asset, e.to), frm, e.amount, **src))
            return g
        g.alerts.append(("tier_outflow", f"tier {e.tier} wallet {e.sender} paid {e.amount} "
                         f"{asset} to {e.to}, not one of our wallets: posted to suspense "
                         f"({where})", g.tid))
        g.transfers.append(TransferSpec(g.tid, susp, frm, e.amount, **src))
        return g

    def _settle(self, g: Group, e: ev.Event, asset: str, om: int, susp: int, src: dict) -> None:
        hold_id = self.lg.open_withdrawal_hold_id(e.op_id)
        hold = self.lg.hold(hold_id) if hold_id else None
        where = src["reference"]
        if hold is not None and hold.asset != asset:
            hold = None  # an op id reused for another asset is not this withdrawal's hold
        if hold is None or (hold.expires_at is not None and hold.expires_at <= self.now):
            why = "has no open hold" if hold is None else f"hold {hold_id} expired"
            g.alerts.append(("unmatched_withdrawal", f"withdrawal {e.op_id} of {e.amount} "
                             f"{asset} {why}: posted to suspense ({where})", g.tid))
            g.transfers.append(TransferSpec(g.tid, susp, om, e.amount, **src))
            return
        settle = min(e.amount, hold.amount)
        g.transfers.append(TransferSpec(g.tid, 0, 0, settle, Kind.POST, pending_id=hold_id, **src))
        if e.amount > hold.amount:
            excess = e.amount - hold.amount
            g.alerts.append(("withdrawal_exceeds_hold", f"withdrawal {e.op_id} paid {e.amount} "
                             f"{asset}, {excess} more than its hold: excess to suspense "
                             f"({where})", g.tid))
            g.transfers.append(TransferSpec(f"{g.tid}:1", susp, om, excess, **src))

    def _void(self, g: Group, where: str) -> Group:
        hold_id = self.lg.open_withdrawal_hold_id(g.event.op_id)
        if hold_id is not None:
            g.transfers.append(TransferSpec(g.tid, 0, 0, 0, Kind.VOID, pending_id=hold_id,
                                            reference=f"{g.event.kind}: {where}",
                                            source=self.name, source_pos=g.event.block_number))
        return g


def fallback(g: Group, m: Mapper, error: Exception, last_resort: bool) -> Group:
    """The group to post instead of ``g``, which the ledger refused with ``error``.

    First the on-chain movement goes to suspense (the omnibus keeps matching the chain); if that
    is refused too (``last_resort``), only an alert is kept and the balance check will flag the
    difference. Never raises: the range always commits.
    """
    e = g.event
    msg = f"{e.kind} of {e.amount} (block {e.block_number} tx {e.tx_hash}) refused: {error}"
    out = Group(e, g.tid, alerts=[a for a in g.alerts if a[0] != "refused"])
    asset = m.tokens.get(e.token)
    if last_resort or asset is None or not e.direction or e.amount <= 0:
        out.alerts.append(("refused", msg + "; nothing posted", f"{g.tid}:refused"))
        return out
    om, susp = m.om(asset, e.vault), m.lg.suspense_account(asset)
    debit, credit = (om, susp) if e.direction == "in" else (susp, om)
    out.transfers.append(TransferSpec(f"{g.tid}:s", debit, credit, e.amount,
                                      reference=f"suspense: {msg}", source=m.name,
                                      source_pos=e.block_number))
    out.alerts.append(("refused", msg + "; posted to suspense", f"{g.tid}:refused"))
    return out


def audit_records(name: str, groups: Sequence[Group], generation: int) -> list[AuditRecord]:
    """One audit record per posting group (``chain.posting``, actor ``chain:<name>``): the event
    (kind, block, transaction, log index), every transfer it posts and the alerts it raises.
    Written in the transaction that commits the groups with the cursor move, so a posting and
    its record commit together or not at all."""
    actor = f"chain:{name}"
    out = []
    for g in groups:
        e = g.event
        params = {
            "event": g.tid, "kind": e.kind, "block": e.block_number, "block_hash": e.block_hash,
            "tx": e.tx_hash, "log_index": e.log_index, "generation": generation,
            "transfers": [[t.transfer_id, t.kind.value, t.debit_account, t.credit_account,
                           str(t.amount), t.pending_id] for t in g.transfers],
        }
        out.append(AuditRecord(actor, "chain.posting", params,
                               {"alerts": [[kind, ref] for kind, _, ref in g.alerts]}))
    return out
