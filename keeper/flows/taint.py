"""Tainted sources: where a client's coins came from on chain, screened again before a sell.

Every vault ``Deposit`` the chain follower credits to a client names its sender in the ledger
posting's reference (:func:`keeper.chain.postings.deposit_reference`). Before the client sells
(or otherwise cashes out) those coins, each distinct sender is screened *now* -- against the
sanctions lists and the address risk the compliance gate uses, with the gate's own rule
(:func:`keeper.compliance.gate.prescreen`): a listed address or a ``block``-band risk is
``block`` (and a SAR), a ``review``-band risk or a possible name match is ``review``. A source
that was clean when it deposited but has since been listed or labelled is found this way.

Read only: nothing is written; the sell path decides (refuse and open the case through
:meth:`keeper.compliance.ComplianceService.screen`, which records, freezes and files).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from keeper.chain import deposit_sender
from keeper.compliance import ComplianceService, Movement, prescreen
from keeper.ledger import Ledger, client_sourced_deposits

_ORDER = {"block": 0, "review": 1}


@dataclass(frozen=True, slots=True)
class TaintedSource:
    """A deposit sender of the client that screening does not clear: ``outcome`` ``block`` or
    ``review``, ``sar`` when a suspicious-activity report is due, the screening ``reasons``,
    the ``asset`` of its first deposit and how many ``deposits`` it made."""

    address: str
    outcome: str
    sar: bool
    reasons: tuple[str, ...]
    asset: str
    deposits: int


def _sources(ledger: Ledger, client_id: str) -> dict[str, tuple[str, int]]:
    """Sender -> (asset of its first deposit, deposits) of ``client_id``, oldest first."""
    out: dict[str, tuple[str, int]] = {}
    for asset, ref in client_sourced_deposits(ledger.engine, client_id):
        if (address := deposit_sender(ref)) is not None:
            first, n = out.get(address, (asset, 0))
            out[address] = (first, n + 1)
    return out


def deposit_sources(ledger: Ledger, client_id: str) -> dict[str, int]:
    """Sender address -> number of on-chain deposits it made to ``client_id``, oldest first."""
    return {address: n for address, (_, n) in _sources(ledger, client_id).items()}


def tainted_sources(ledger: Ledger, compliance: ComplianceService, client_id: str,
                    now: datetime | None = None) -> list[TaintedSource]:
    """The senders of ``client_id``'s on-chain deposits that sanctions screening or address
    risk does not clear today, ``block`` ones first (then by first deposit). Empty when every
    source is clean -- or when the gate screens nothing (neither lists nor risk configured),
    exactly as :meth:`~keeper.compliance.ComplianceService.screen` would then decide."""
    at = now or datetime.now(UTC)
    out = []
    for address, (asset, n) in _sources(ledger, client_id).items():
        probe = Movement(f"taint:{client_id}:{address}", client_id, "deposit", asset, 0, 0, at,
                         address=address)
        found = prescreen(probe, compliance.risk, compliance.screener)
        if found.outcome != "allow":
            out.append(TaintedSource(address, found.outcome, found.sar, tuple(found.reasons),
                                     asset, n))
    return sorted(out, key=lambda t: _ORDER[t.outcome])
