"""Independent verification of one partner-reported transaction against what OUR node says.

:func:`check` is pure: given the report, the node's facts about its transaction
(:func:`keeper.partners.chainscan.tx_facts`), the sub-account's address and what we asked for,
it decides ``verified`` (with the chain movement it accounts for), ``pending`` (not yet enough
confirmations) or a break of one kind. Nothing the partner says is taken on trust: amount,
asset, sender, recipient, fee and confirmations all come from the chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from keeper.partners.chainscan import Move, TxFacts

BREAK_KINDS = ("missing_on_chain", "amount_mismatch", "address_mismatch", "fee_mismatch",
               "unrequested_withdrawal", "unauthorised_destination", "duplicate_report",
               "unreported_on_chain", "balance_mismatch", "report_changed", "unknown_account",
               "ledger_refused")


@dataclass(frozen=True, slots=True)
class Reported:
    """The fields of a reported transaction that verification compares (lower-case hex)."""

    kind: str
    asset: str
    amount: int
    fee: int
    sender: str
    recipient: str
    tx_hash: str | None
    log_index: int | None
    block_number: int | None


@dataclass(frozen=True, slots=True)
class Requested:
    """Our own withdrawal request the report claims to execute."""

    asset: str
    amount: int
    destination: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """``verified`` / ``pending`` / ``break`` (``kind`` says which), the matched chain move."""

    status: str
    kind: str = ""
    detail: str = ""
    move: Move | None = None


PENDING = Verdict("pending")


def _break(kind: str, detail: str, move: Move | None = None) -> Verdict:
    return Verdict("break", kind, detail, move)


def check(r: Reported, facts: TxFacts | None, *, address: str, safe_block: int,
          whitelist: frozenset[str], request: Requested | None, request_open: bool,
          claimed: frozenset[str] = frozenset()) -> Verdict:
    """The verdict on ``r`` (see module doc). ``safe_block``: the newest block with enough
    confirmations; ``request_open``: we have withdrawal requests whose partner id we do not know
    yet (an unmatched withdrawal waits for them instead of breaking); ``claimed``: chain moves
    already accounted for by other reports."""
    if r.tx_hash is None:
        return _break("missing_on_chain", "reported without a transaction hash")
    if facts is None:
        if r.block_number is None or r.block_number > safe_block:
            return PENDING
        return _break("missing_on_chain", f"transaction {r.tx_hash} is not on chain")
    if not facts.ok:
        return _break("missing_on_chain", f"transaction {r.tx_hash} reverted on chain")
    if facts.block > safe_block:
        return PENDING
    incoming = r.kind == "deposit"
    same_asset = [m for m in facts.moves if m.asset == r.asset]
    ours = [m for m in same_asset if (m.recipient if incoming else m.sender) == address]
    if r.log_index is not None and r.asset != "ETH":
        ours = [m for m in ours if m.log_index == r.log_index] or ours
    if not ours:
        if same_asset:
            m = same_asset[0]
            return _break("address_mismatch", f"{r.asset} in {r.tx_hash} moved {m.sender} -> "
                          f"{m.recipient}, not {'to' if incoming else 'from'} the sub-account")
        return _break("missing_on_chain", f"no {r.asset} movement in {r.tx_hash}")
    move = next((m for m in ours if m.key not in claimed), None)
    if move is None:
        return _break("duplicate_report", f"the {r.asset} movement in {r.tx_hash} is already "
                      "accounted for by another report")
    if (move.sender, move.recipient) != (r.sender, r.recipient):
        return _break("address_mismatch", f"reported {r.sender} -> {r.recipient}, chain "
                      f"{move.sender} -> {move.recipient} in {r.tx_hash}", move)
    if move.amount != r.amount:
        return _break("amount_mismatch", f"reported {r.amount}, chain {move.amount} {r.asset} "
                      f"in {r.tx_hash}", move)
    paid = facts.fee if facts.sender == address else 0
    if r.fee != paid:
        return _break("fee_mismatch", f"reported fee {r.fee}, chain {paid} wei in {r.tx_hash}", move)
    if not incoming:
        if move.recipient not in whitelist:
            return _break("unauthorised_destination", f"withdrawal to {move.recipient}, not "
                          f"whitelisted ({r.tx_hash})", move)
        if request is None:
            return PENDING if request_open else _break(
                "unrequested_withdrawal", f"withdrawal {r.tx_hash} matches no request of ours", move)
        if (request.asset, request.amount, request.destination) != (r.asset, r.amount, move.recipient):
            return _break("unrequested_withdrawal", f"withdrawal {r.tx_hash} differs from the "
                          f"request it claims ({request.amount} {request.asset} to "
                          f"{request.destination})", move)
    return Verdict("verified", move=move)
