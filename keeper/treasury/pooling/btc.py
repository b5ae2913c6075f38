"""BTC consolidation: many UTXOs of a P2WSH multisig wallet into one output, when fees are low.

Every UTXO costs one multisig input (``input_vbytes``: the marginal vsize of one more P2WSH m-of-n
input) whenever it is spent. Consolidating ``N`` of them now, at ``fee_rate`` sat/vB, costs the
fee of one N-input, one-output transaction; left alone they will cost ``N x input_vbytes x
typical_rate`` when spent later, against ``1 x input_vbytes x typical_rate`` for the single
consolidated output. :func:`plan_consolidation` computes both in integer satoshis and
consolidates only when

* the fee rate now is at most ``max_fee_rate`` (the "low fees" threshold), and
* the saving ``(N - 1) x input_vbytes x typical_rate - fee_now`` is positive.

Only economic UTXOs take part: one worth no more than its own input at the current rate would
cost more to spend than it brings, and is left (counted in the report). At most ``max_inputs``
are taken at once (a standard transaction stays well under 100 kvB), largest first: the order
in which the coordinator (:class:`keeper.btc.SpendCoordinator`) selects coins, so the PSBT
spends exactly the planned UTXOs and has no change output (the amount paid is the planned
total minus the fee; the fee is computed with room for a change output, so it is at most ~43 vB
worth of satoshis above the rate).

:func:`propose_consolidation` creates that PSBT through the coordinator (inputs locked, persisted
when the coordinator has a store); the cosigners sign it with their usual tools and the
coordinator's ``try_release`` finalizes, script-verifies and broadcasts it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine

from keeper.audit import AuditRecord, append
from keeper.btc import MultisigWallet, PendingSpend, SpendCoordinator
from keeper.btc.wallet import address_to_script, estimate_vsize
from keeper.treasury.pooling.plan import ACTOR

MAX_INPUTS = 400


@dataclass(frozen=True)
class ConsolidationPlan:
    """The decision and its figures (integers: satoshis, sat/vB, vbytes)."""

    consolidate: bool
    reason: str
    utxos_total: int  # UTXOs of the wallet now
    inputs: int  # UTXOs the consolidation spends
    uneconomic: int  # UTXOs worth less than their own input at this rate, left alone
    amount_in: int
    fee_now: int
    amount_out: int
    vsize: int
    input_vbytes: int
    fee_rate: int
    typical_rate: int
    later_cost_unconsolidated: int  # spending the N inputs later at the typical rate
    later_cost_consolidated: int  # spending the one output later at the typical rate
    saving: int  # later_cost_unconsolidated - later_cost_consolidated - fee_now

    def report(self) -> dict[str, object]:
        """The plan as a JSON-ready dict of integers and the reason."""
        return asdict(self)


def input_vbytes(wallet: MultisigWallet) -> int:
    """Marginal vsize of one more of this wallet's multisig inputs."""
    m, n = wallet.descriptor.threshold, len(wallet.descriptor.keys)
    return estimate_vsize(m, n, 2, [34]) - estimate_vsize(m, n, 1, [34])


def plan_consolidation(wallet: MultisigWallet, destination: str, fee_rate: int, *,
                       max_fee_rate: int, typical_rate: int, max_inputs: int = MAX_INPUTS,
                       exclude: frozenset[tuple[str, int]] = frozenset()) -> ConsolidationPlan:
    """Whether and what to consolidate (see the module docstring); pure arithmetic over the
    wallet's UTXOs (minus ``exclude``, e.g. the coordinator's locked outpoints)."""
    for name, v in (("fee_rate", fee_rate), ("max_fee_rate", max_fee_rate),
                    ("typical_rate", typical_rate), ("max_inputs", max_inputs)):
        if type(v) is not int or v < 1:
            raise ValueError(f"{name} is an integer >= 1")
    m, n = wallet.descriptor.threshold, len(wallet.descriptor.keys)
    per_input = input_vbytes(wallet)
    utxos = sorted(wallet.utxos(exclude), key=lambda u: (-u.value, u.txid, u.vout))
    # "+ 3": vsize is rounded per transaction (and the input count's varint grows at 253), so a
    # kept input must outweigh a few vbytes more than its own: the coordinator then takes them all
    economic = [u for u in utxos if u.value > (per_input + 3) * fee_rate]
    chosen = economic[:max_inputs]
    k = len(chosen)
    dest_len = len(address_to_script(destination, wallet.network))
    change_len = len(wallet.descriptor.script_pubkey(1, 0))
    vsize = estimate_vsize(m, n, max(k, 1), [dest_len, change_len])
    fee = fee_rate * vsize
    amount_in = sum(u.value for u in chosen)
    later_without = k * per_input * typical_rate
    later_with = per_input * typical_rate if k else 0
    saving = later_without - later_with - fee
    reason = "consolidate"
    if fee_rate > max_fee_rate:
        reason = f"fee rate {fee_rate} sat/vB is above the consolidation threshold {max_fee_rate}"
    elif k < 2:
        reason = f"{k} economic UTXO(s): nothing to consolidate"
    elif saving <= 0:
        reason = (f"not worth it: {fee} sats now vs {later_without - later_with} sats saved "
                  f"later at {typical_rate} sat/vB")
    return ConsolidationPlan(
        consolidate=reason == "consolidate", reason=reason, utxos_total=len(utxos), inputs=k,
        uneconomic=len(utxos) - len(economic), amount_in=amount_in, fee_now=fee,
        amount_out=max(0, amount_in - fee), vsize=vsize, input_vbytes=per_input,
        fee_rate=fee_rate, typical_rate=typical_rate, later_cost_unconsolidated=later_without,
        later_cost_consolidated=later_with, saving=saving)


def propose_consolidation(coordinator: SpendCoordinator, destination: str, fee_rate: int,
                          now: datetime, *, max_fee_rate: int, typical_rate: int,
                          max_inputs: int = MAX_INPUTS, audit: Engine | None = None
                          ) -> tuple[ConsolidationPlan, PendingSpend | None]:
    """Plan, and when worth it propose the consolidation PSBT through ``coordinator``; the
    proposal is checked to spend exactly the planned inputs into one output (else refused).
    With ``audit`` (the database of the audit trail) the decision, its figures and the spend id
    are recorded (``treasury.pooling.btc_consolidation``), consolidated or not."""
    plan = plan_consolidation(coordinator.wallet, destination, fee_rate,
                              max_fee_rate=max_fee_rate, typical_rate=typical_rate,
                              max_inputs=max_inputs, exclude=frozenset(coordinator.locked()))
    spend = _propose(coordinator, plan, destination, fee_rate, now) if plan.consolidate else None
    if audit is not None:
        with audit.begin() as conn:
            append(conn, AuditRecord(ACTOR, "treasury.pooling.btc_consolidation",
                                     {"wallet": coordinator.wallet.name or "",
                                      "destination": destination, **plan.report()},
                                     {"spend": spend.id if spend else None}))
    return plan, spend


def _propose(coordinator: SpendCoordinator, plan: ConsolidationPlan, destination: str,
             fee_rate: int, now: datetime) -> PendingSpend:
    spend = coordinator.propose([(destination, plan.amount_out)], fee_rate, now)
    tx = spend.psbt.unsigned_tx
    if len(tx.vin) != plan.inputs or len(tx.vout) != 1:
        coordinator.expire(spend.expires_at)  # unlock its inputs: never left half-proposed
        raise RuntimeError(f"consolidation PSBT spends {len(tx.vin)} inputs into "
                           f"{len(tx.vout)} outputs, planned {plan.inputs} into 1")
    return spend
