"""How a verified partner transaction moves the sub-ledger; the one home of the partner custody
location's name.

A partner sub-account is a custody location like the vault or a tier wallet: the omnibus
account of ``asset`` at :func:`partner_location` holds what the partner keeps for one client at
one address (segregated). A verified deposit debits that location and credits the client; a
verified withdrawal (and the ETH gas fee the sub-account paid) debits the client and credits it.
"""

from __future__ import annotations

from keeper.ledger import Ledger, TransferSpec


def partner_location(partner: str, address: str) -> str:
    """The omnibus location of a client's sub-account at ``partner`` (``partner:<name>:0x..``)."""
    return f"partner:{partner}:{address.lower()}"


def source_name(partner: str) -> str:
    """The ledger ``source`` of the postings of ``partner``'s verified transactions."""
    return f"partner:{partner}"


def transfers(ledger: Ledger, *, partner: str, address: str, client_ref: str, kind: str,
              asset: str, amount: int, fee: int, move_key: str, tx_hash: str, block: int
              ) -> list[TransferSpec]:
    """The postings of one verified transaction (ids derived from the chain move: a rerun or a
    second keeper posts nothing twice)."""
    where = partner_location(partner, address)
    held = ledger.omnibus_account(asset, where)
    client = ledger.client_account(client_ref, asset)
    tid = f"{source_name(partner)}:{move_key}"
    ref = f"partner {partner} {kind} tx {tx_hash}"
    common = {"reference": ref, "source": source_name(partner), "source_pos": block}
    if kind == "deposit":  # a zero-value transfer moves nothing (anyone may send one)
        return [TransferSpec(tid, held, client, amount, **common)] if amount else []  # type: ignore[arg-type]
    out = [TransferSpec(tid, client, held, amount, **common)] if amount else []  # type: ignore[arg-type]
    if fee:
        out.append(TransferSpec(f"{tid}:fee", ledger.client_account(client_ref, "ETH"),
                                ledger.omnibus_account("ETH", where), fee,
                                reference=f"{ref} network fee", source=source_name(partner),
                                source_pos=block))
    return out
