"""On-chain withdrawal orders: screened, held in the sub-ledger, paid by the vault sender.

States after ``screening``: ``held`` (the client's coins held for the vault operation) ->
``sent`` (the HSM-signed ``Vault.withdraw`` is out; fee bumps are the sender's) -> ``completed``
(the vault paid: the chain follower settles the hold on the ``Withdrawal`` event) | ``queued``
(above the vault's instant budget: paid after the 24 h queue) -> ``completed``; any refusal or
revert (blacklisted destination, paused token, limit reached...) -> ``failed`` with the stable
reason code, the hold released. ``sender`` is a :class:`keeper.chain.VaultWithdrawals`.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from eth_utils import is_address, to_checksum_address
from sqlalchemy import select

from keeper import notifications
from keeper.assets import ETH_ADDRESS, by_symbol
from keeper.chain import erc20_approve, vault_deposit
from keeper.flows import rules, store
from keeper.flows.gate import Gate
from keeper.flows.models import OrderRow
from keeper.flows.store import Order, Refused
from keeper.ledger import InsufficientFunds, Kind, TransferSpec

_ORD = OrderRow.__table__
log = logging.getLogger(__name__)


def inventory_ref(inventory_client: str) -> str:
    """The bytes32 client reference of the bank's inventory in vault deposits (0x hex)."""
    return "0x" + hashlib.sha256(f"strongroom:inventory:{inventory_client}".encode()).hexdigest()


def op_id(order_id: str) -> str:
    """The vault operation id of a withdrawal order (0x-prefixed lower-case bytes32)."""
    return "0x" + hashlib.sha256(f"strongroom:withdraw:{order_id}".encode()).hexdigest()


def deposit_to_inventory(tx: Any, vault: str, token: str, units: int, ref: str,
                         intent: str) -> Any:
    """Deposit ``units`` of ``token`` from ``tx``'s key (the issuance key) into ``vault`` under
    the inventory's client reference ``ref``: one standing approval of the vault per token, then
    the deposit, once per ``intent`` (both idempotent sends of the :class:`TxSender` ``tx``).
    Returns the deposit's :class:`keeper.chain.sender.SentTx`, or None while the approval is
    not mined (call again). ``WouldRevertError`` while the coins have not arrived."""
    from keeper.chain.sender import MINED

    approve = f"inventory-approve:{vault}:{token}"
    tx.send(approve, token, erc20_approve(vault, 2**256 - 1))
    state = tx.status(approve)
    if state is None or state.state != MINED:
        return None  # the deposit follows once the approval is final
    return tx.send(intent, vault, vault_deposit(token, units, bytes.fromhex(ref[2:])))


class Withdrawals(Gate):
    """The withdrawal order and its driver steps (base of :class:`keeper.flows.OrderService`)."""

    def withdraw(self, client_id: str, asset: str, to_address: str, units: int, *,
                 idempotency_key: str) -> Order:
        """Withdraw ``units`` of ``asset`` to ``to_address`` (whitelisted on the vault)."""
        params = {"asset": asset, "units": str(units), "to": str(to_address)[:64],
                  "idempotency_key": idempotency_key}

        def validate() -> tuple[str, str]:
            if self.sender is None:
                raise Refused("unavailable", "on-chain withdrawals are not configured")
            sym = rules.asset_symbol(asset)
            rules.check_units(sym, units)
            if not isinstance(to_address, str) or not is_address(to_address):
                raise Refused("invalid_address", "not an Ethereum address")
            return sym, to_checksum_address(to_address)

        sym, dest = self._checked(client_id, "withdraw", params, validate)
        fp = store.fingerprint({"kind": "withdraw", "asset": sym, "to": dest, "units": units})
        found = self._by_key(client_id, idempotency_key, fp)
        if found is not None and self._known(found):
            return found
        self._checked(client_id, "withdraw", params,
                      lambda: self._preflight(client_id))
        order = self._open(client_id, idempotency_key, fp, kind="withdraw", asset=sym,
                           units=units, fiat_cents=0, fee_cents=0, data={"to": dest})
        if self._known(order):
            return order
        return self._withdraw_screening(order, {"to": dest}, 0)

    def _withdraw_screening(self, order: Order, data: dict[str, Any], version: int) -> Order:
        """Screen the destination, check the breaker, hold the coins, then mark ``held``."""
        dest = data.get("to") or self._load(order.id)[1]["to"]
        try:
            profile = self._preflight(order.client_id)
            self._screen(order, "withdrawal", profile, address=dest)
            with self.writer.begin() as conn:
                rules.check_breaker(conn)
            try:
                self.ledger.open_withdrawal_hold(
                    op_id(order.id), order.client_id, order.asset, order.units,
                    self.sender.vault, now=order.created_at)
            except InsufficientFunds as exc:
                raise Refused("insufficient_funds", str(exc)) from None
        except Refused as exc:
            raise self._refused(order, exc) from None
        self._move(order.id, "screening", "held")
        return self.advance(order.id)

    def _withdraw_held(self, order: Order, data: dict[str, Any], version: int) -> Order:
        from keeper.chain import WithdrawalRefusedError

        a = by_symbol(order.asset)
        token = a.address or ETH_ADDRESS
        try:
            out = self.sender.submit(bytes.fromhex(op_id(order.id)[2:]), token, data["to"],
                                     order.units)
        except WithdrawalRefusedError as exc:
            return self._release(order, version, exc.code, exc.reason)
        self._move(order.id, "held", "sent", version=version,
                   data={"tx": list(out.tx_hashes)})
        return self.advance(order.id)

    def _withdraw_sent(self, order: Order, data: dict[str, Any], version: int) -> Order:
        out = self.sender.outcome(bytes.fromhex(op_id(order.id)[2:]))
        if out.status == "paid":  # a delay's reason no longer holds once paid
            return self._move(order.id, order.state, "completed", version=version,
                              reason="" if data.get("delayed") else None,
                              data={"tx": out.mined_hash})
        if out.status == "queued" and order.state == "sent":
            return self._move(order.id, "sent", "queued", version=version,
                              data={"eta": out.eta, "tx": out.mined_hash})
        if out.status == "reverted":
            return self._release(order, version, out.code or "unknown", out.reason or "")
        if out.status == "dropped":  # the nonce went to another transaction: nothing was paid
            return self._release(order, version, "dropped",
                                 out.reason or "the transaction was dropped")
        if out.status == "unknown" and not data.get("unknown"):  # ops must look: once
            self.ledger.raise_alert("flows.withdrawal_unknown",
                                    f"withdrawal {order.id}: {out.reason or 'outcome unknown'}",
                                    ref=f"flows:{order.id}:unknown")
            return self._move(order.id, order.state, order.state, version=version,
                              data={"unknown": True})
        if out.status == "delayed" and not data.get("delayed"):  # tell the client once
            return self._move(order.id, order.state, order.state, version=version,
                              reason="network congestion: the transaction is delayed",
                              data={"delayed": True}, notice=notifications.WITHDRAWAL_DELAYED)
        return order

    _withdraw_queued = _withdraw_sent

    def settle_queued(self) -> int:
        """Pay the queued withdrawals whose eta (chain time) has passed (``VaultWithdrawals.execute``): the
        vault's ``not_ready`` means later; any other refusal fails the order and releases its
        hold. Returns how many orders changed state."""
        from keeper.chain import WithdrawalRefusedError

        if self.sender is None:
            return 0
        with self.engine.connect() as conn:
            ids = list(conn.scalars(select(_ORD.c.id).where(
                _ORD.c.kind == "withdraw", _ORD.c.state == "queued").order_by(_ORD.c.created_at)))
        if not ids:
            return 0
        now = int(self.sender.w3.eth.get_block("latest")["timestamp"])  # the vault's clock
        moved = 0
        for oid in ids:
            order, data, version = self._load(oid)
            op = bytes.fromhex(op_id(oid)[2:])
            if order.state != "queued" or int(data.get("eta") or now + 1) > now:
                continue
            if self.sender.outcome(op).status != "queued":
                continue  # its execution is out: the driver follows it
            try:
                self.sender.execute(op)
            except WithdrawalRefusedError as exc:
                if exc.code == "not_ready":
                    continue
                self._release(order, version, exc.code, exc.reason)
                moved += 1
                continue
            moved += self.advance(oid).state != "queued"
        return moved

    def _sweep_minted(self, order: Order) -> None:
        """Deposit a buy's minted coins from the issuance address into the vault under the
        inventory's reference, so the follower credits the inventory: sent by the issuance
        key's own sender (``sender.issuance``, a key without vault roles), one standing
        approval of the vault per token, then one deposit per order (both idempotent intents).
        That sender is followed here (its only user): nothing is sent while the coins have not
        arrived or the approval is not mined; an issuance address that is not that key's is
        left to its owner."""
        from keeper.chain import WouldRevertError

        payer = self.sender
        tx = None if payer is None else payer.issuance
        token = by_symbol(order.asset).address
        if (tx is None or token is None or self.inventory_address is None
                or self.inventory_address.lower() != tx.address.lower()):
            return
        ref = inventory_ref(self.inventory_client)
        try:
            tx.tick()
            self.ledger.register_client_ref(ref, self.inventory_client)
            deposit_to_inventory(tx, payer.vault, token, order.units, ref,
                                 f"inventory-deposit:{order.id}")
        except WouldRevertError as exc:  # the minted coins have not arrived yet
            log.info("order %s: inventory deposit not possible yet: %s", order.id, exc)

    def _release(self, order: Order, version: int, code: str, why: str) -> Order:
        """Fail the order and void its hold in one transaction (the client is told why)."""
        hold = self.ledger.open_withdrawal_hold_id(op_id(order.id))
        posts = [] if hold is None else [TransferSpec(f"flows:{order.id}:void", 0, 0, 0, Kind.VOID,
                                                      pending_id=hold, reference=order.id)]
        return self._move(order.id, order.state, "failed", version=version,
                          reason=f"{code}: {why}"[:500], postings=posts)
