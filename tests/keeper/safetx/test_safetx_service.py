"""Proposals, confirmations, reads and deletions with the Safe Transaction Service's rules, on
our Multisig on the fork and on SQLite and PostgreSQL (`database` fixture)."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from keeper.audit import export
from keeper.keys import safe_tx_hash
from keeper.safetx import (
    ConfirmationRefused,
    DeleteRefused,
    ProposalRefused,
    SafeTxService,
    Status,
    UnknownSafe,
    UnknownTransaction,
    delete_message_hash,
    hash_hex,
)
from keeper.safetx.models import Confirmation, SafeTransaction

BOB = "0x000000000000000000000000000000000000bEEF"


def audit_text(service: SafeTxService) -> str:
    out = io.StringIO()
    export(service.engine, out)
    return out.getvalue()


def stored(service: SafeTxService) -> tuple[int, int]:
    with service.engine.connect() as conn:
        txs = conn.execute(select(func.count()).select_from(SafeTransaction.__table__)).scalar()
        confs = conn.execute(select(func.count()).select_from(Confirmation.__table__)).scalar()
    return int(txs), int(confs)


def test_propose_stores_tx_and_senders_confirmation_with_audit(service, multisig, owners, chain,
                                                               proposal, transfer_tx):
    p = proposal(chain.chain_id, multisig.address, transfer_tx(BOB, 10**18, 0), owners[0])
    h = service.propose(p)
    assert h == hash_hex(bytes(multisig.getTransactionHash(BOB, 10**18, b"", 0, 0, 0, 0,
                                                           p.tx.gas_token, p.tx.refund_receiver, 0)))
    rec = service.get(h)
    assert rec.status == Status.PENDING and rec.proposer == owners[0].address
    assert [c.owner for c in rec.confirmations] == [owners[0].address]
    assert rec.confirmations[0].signature_type == "EOA"
    assert rec.confirmations_required == 2
    assert '"safetx.propose"' in audit_text(service)


@pytest.mark.parametrize("case", ["wrong_hash", "non_owner_sender", "non_owner_signature",
                                  "signature_not_sender", "no_signature", "garbage_signature"])
def test_refused_proposals_change_nothing(service, multisig, owners, outsider, chain, case,
                                          proposal, transfer_tx):
    tx = transfer_tx(BOB, 1, 0)
    cid, safe = chain.chain_id, multisig.address
    p = proposal(cid, safe, tx, owners[0])
    if case == "wrong_hash":
        p = proposal(cid, safe, tx, owners[0])
        p = type(p)(safe, transfer_tx(BOB, 2, 0), p.contract_transaction_hash, p.sender,
                    p.signature)
    elif case == "non_owner_sender":
        p = proposal(cid, safe, tx, outsider)
    elif case == "non_owner_signature":
        p = proposal(cid, safe, tx, owners[0], owners[0], outsider)
    elif case == "signature_not_sender":
        p = proposal(cid, safe, tx, owners[0], owners[1])
    elif case == "no_signature":
        p = type(p)(safe, tx, p.contract_transaction_hash, p.sender, None)
    else:
        p = type(p)(safe, tx, p.contract_transaction_hash, p.sender, b"\x00" * 64 + b"\x05")
    before = audit_text(service)
    with pytest.raises(ProposalRefused):
        service.propose(p)
    assert stored(service) == (0, 0)
    assert audit_text(service) == before


def test_duplicate_signature_in_one_proposal_refused(service, multisig, owners, chain, proposal,
                                                     transfer_tx):
    p = proposal(chain.chain_id, multisig.address, transfer_tx(BOB, 1, 0), owners[0])
    p = type(p)(p.safe, p.tx, p.contract_transaction_hash, p.sender, p.signature * 2)
    with pytest.raises(ProposalRefused, match="duplicated"):
        service.propose(p)
    assert stored(service) == (0, 0)


def test_unknown_safe_is_refused(service, owners, chain, outsider, proposal, transfer_tx):
    p = proposal(chain.chain_id, outsider.address, transfer_tx(BOB, 1, 0), owners[0])
    with pytest.raises(UnknownSafe):
        service.propose(p)
    with pytest.raises(UnknownSafe):
        service.safe_info(outsider.address)


def test_confirmations_owner_once_and_only_pending(service, multisig, owners, outsider, chain,
                                                   proposal, transfer_tx):
    tx = transfer_tx(BOB, 1, 0)
    h = service.propose(proposal(chain.chain_id, multisig.address, tx, owners[0]))
    digest = safe_tx_hash(chain.chain_id, multisig.address, tx)
    with pytest.raises(ConfirmationRefused, match="not an owner"):
        service.confirm(h, outsider.sign(digest))
    with pytest.raises(ConfirmationRefused, match="duplicated"):
        service.confirm(h, owners[0].sign(digest))
    wrong = safe_tx_hash(chain.chain_id, multisig.address, transfer_tx(BOB, 2, 0))
    with pytest.raises(ConfirmationRefused):  # signs another tx: recovers to a non-owner
        service.confirm(h, owners[1].sign(wrong))
    assert service.confirm(h, owners[1].sign(digest)) == [owners[1].address]
    with pytest.raises(ConfirmationRefused, match="duplicated"):
        service.confirm(h, owners[1].sign(digest))
    assert [c.owner for c in service.get(h).confirmations] == [owners[0].address,
                                                                owners[1].address]
    with pytest.raises(UnknownTransaction):
        service.confirm("0x" + "ab" * 32, owners[1].sign(digest))


def test_reproposal_adds_new_signatures_only(service, multisig, owners, chain, proposal, transfer_tx):
    tx = transfer_tx(BOB, 3, 0)
    h = service.propose(proposal(chain.chain_id, multisig.address, tx, owners[0]))
    assert service.propose(proposal(chain.chain_id, multisig.address, tx, owners[1])) == h
    assert {c.owner for c in service.get(h).confirmations} == {o.address for o in owners[:2]}
    assert stored(service) == (1, 2)


def test_list_filters_and_ordering(service, multisig, owners, chain, proposal, transfer_tx):
    hs = [service.propose(proposal(chain.chain_id, multisig.address, transfer_tx(BOB, v, n),
                                   owners[0])) for v, n in ((1, 0), (2, 1), (3, 1), (4, 2))]
    count, page, unique = service.list(multisig.address)
    assert (count, unique) == (4, 3)
    assert [r.tx.nonce for r in page] == [2, 1, 1, 0]
    count, page, _ = service.list(multisig.address, nonce_gte=1, ordering="nonce")
    assert count == 3 and [r.tx.nonce for r in page] == [1, 1, 2]
    assert service.list(multisig.address, executed=True)[0] == 0
    assert service.list(multisig.address, executed=False)[0] == 4
    count, page, _ = service.list(multisig.address, limit=1, offset=3)
    assert count == 4 and [r.safe_tx_hash for r in page] == [hs[0]]


def _delete_sig(owner: Any, chain_id: int, safe: str, h: str) -> bytes:
    return owner.sign(delete_message_hash(chain_id, safe, bytes.fromhex(h[2:]),
                                          int(time.time()) // 3600))


def test_delete_only_by_proposer(service, multisig, owners, chain, proposal, transfer_tx):
    tx = transfer_tx(BOB, 5, 0)
    h = service.propose(proposal(chain.chain_id, multisig.address, tx, owners[0]))
    service.confirm(h, owners[1].sign(safe_tx_hash(chain.chain_id, multisig.address, tx)))
    with pytest.raises(DeleteRefused, match="not the proposer"):
        service.delete(h, _delete_sig(owners[1], chain.chain_id, multisig.address, h))
    with pytest.raises(DeleteRefused):
        service.delete(h, b"\x01" * 65)
    assert stored(service) == (1, 2)
    service.delete(h, _delete_sig(owners[0], chain.chain_id, multisig.address, h))
    assert stored(service) == (0, 0)
    with pytest.raises(UnknownTransaction):
        service.get(h)
    assert '"safetx.delete"' in audit_text(service)


def test_safe_info_reads_chain(service, multisig, owners):
    info = service.safe_info(multisig.address)
    assert info.owners == tuple(o.address for o in owners)
    assert (info.threshold, info.nonce, info.version) == (2, 0, "1.4.1")


def test_eth_sign_and_approved_hash_signatures(service, multisig, owners, accounts, chain,
                                               proposal, transfer_tx):
    from eth_account import Account
    from eth_account.messages import encode_defunct

    tx = transfer_tx(BOB, 1, 0)
    digest = safe_tx_hash(chain.chain_id, multisig.address, tx)
    signed = Account.sign_message(encode_defunct(primitive=digest), owners[0].key)
    eth_sign = signed.signature[:64] + bytes([signed.signature[64] + 4])
    p = proposal(chain.chain_id, multisig.address, tx, owners[0])
    h = service.propose(type(p)(p.safe, tx, digest, p.sender, eth_sign))
    approved = bytes(12) + bytes.fromhex(owners[1].address[2:]) + bytes(32) + b"\x01"
    with pytest.raises(ConfirmationRefused):  # not approved on chain yet
        service.confirm(h, approved)
    multisig.approveHash(digest, sender=accounts[2])
    assert accounts[2].address == owners[1].address
    assert service.confirm(h, approved) == [owners[1].address]
    types = {c.owner: c.signature_type for c in service.get(h).confirmations}
    assert types == {owners[0].address: "ETH_SIGN", owners[1].address: "APPROVED_HASH"}


def test_concurrent_confirmations_by_one_owner_store_one(service, multisig, owners, chain,
                                                         proposal, transfer_tx):
    from concurrent.futures import ThreadPoolExecutor

    tx = transfer_tx(BOB, 1, 0)
    h = service.propose(proposal(chain.chain_id, multisig.address, tx, owners[0]))
    sig = owners[1].sign(safe_tx_hash(chain.chain_id, multisig.address, tx))

    def attempt(_: int) -> str:
        try:
            service.confirm(h, sig)
            return "ok"
        except ConfirmationRefused:
            return "refused"
        except Exception as exc:  # noqa: BLE001 - anything else is the failure under test
            return type(exc).__name__

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(attempt, range(8)))
    assert outcomes == ["ok"] + ["refused"] * 7
    assert stored(service) == (1, 2)


def test_register_deployed_multisigs_only(service, multisig, project, accounts, chain):
    from keeper.deployments import ContractEntry, Deployment

    other = accounts[0].deploy(project.Multisig, [accounts[4].address, accounts[5].address], 2,
                               [accounts[i].address for i in (6, 7, 8)], 2, 30 * 86400)
    block = chain.blocks.head.number
    record = Deployment(chain.chain_id, contracts={
        "warm_multisig": ContractEntry("Multisig", other.address, "0x", accounts[0].address, block),
        "escrow": ContractEntry("Escrow", accounts[9].address, "0x", accounts[0].address, block)})
    assert service.register_deployed(record) == [other.address]
    assert service.known_safes() == sorted([multisig.address, other.address])
    with pytest.raises(UnknownSafe):  # an address without our Multisig's interface
        service.register_safe(accounts[9].address)
