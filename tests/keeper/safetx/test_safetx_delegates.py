"""Delegates in the service (fork, SQLite and PostgreSQL): a delegation counts only until it
expires, a delegation without a Safe holds for every served Safe its delegator owns, a delegate
may delete the proposal it made (as in the Safe service) but not another's, and every change is
audited without the signature."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account

from keeper.audit import export
from keeper.keys import safe_tx_hash
from keeper.safetx import (
    DelegateRefused,
    DeleteRefused,
    ProposalRefused,
    SafeDelegates,
    SafeTxService,
    Status,
    delegate_message_hash,
    delete_message_hash,
)
from keeper.safetx.messages import totp_window

BOB = "0x000000000000000000000000000000000000bEEF"


class Clock:
    """The service's clock, moved by the test (the totp still follows real time)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _signed(owner: Any, delegate: str, chain_id: int) -> bytes:
    return owner.sign(delegate_message_hash(delegate, totp_window()[0], chain_id))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(service: SafeTxService, clock: Clock) -> SafeTxService:
    """The fixture's service on the same database, with a clock the test moves."""
    return SafeTxService(service.engine, service.chain, clock=clock)


def test_expired_delegation_no_longer_proposes(svc, clock, multisig, owners, outsider, chain,
                                               proposal, transfer_tx):
    safe, cid = multisig.address, chain.chain_id
    SafeDelegates(svc).add(safe=safe, delegate=outsider.address, delegator=owners[0].address,
                           signature=_signed(owners[0], outsider.address, cid), label="desk",
                           expiry_date=clock.now + timedelta(hours=1))
    h = svc.propose(proposal(cid, safe, transfer_tx(BOB, 1, 0), outsider))
    rec = svc.get(h)
    assert (rec.proposer, rec.proposed_by_delegate, rec.confirmations) == (
        owners[0].address, outsider.address, ())
    clock.now += timedelta(hours=2)
    with pytest.raises(ProposalRefused, match="not an owner or delegate"):
        svc.propose(proposal(cid, safe, transfer_tx(BOB, 2, 0), outsider))
    count, page = SafeDelegates(svc).list(safe=safe)
    assert count == 1 and page[0].expiry_date is not None  # listed, but no longer effective
    with pytest.raises(DelegateRefused, match="previous to the current"):
        SafeDelegates(svc).add(safe=safe, delegate=outsider.address, delegator=owners[0].address,
                               signature=_signed(owners[0], outsider.address, cid), label="x",
                               expiry_date=clock.now - timedelta(seconds=1))


def test_delegation_for_every_safe_the_delegator_owns(svc, multisig, owners, outsider, accounts,
                                                       chain, proposal, transfer_tx):
    safe, cid = multisig.address, chain.chain_id
    stranger = accounts[8].address
    with pytest.raises(DelegateRefused, match="not an owner of any Safe"):
        SafeDelegates(svc).add(safe=None, delegate=stranger, delegator=outsider.address,
                               signature=_signed(outsider, stranger, cid), label="x")
    SafeDelegates(svc).add(safe=None, delegate=outsider.address, delegator=owners[1].address,
                           signature=_signed(owners[1], outsider.address, cid), label="all")
    h = svc.propose(proposal(cid, safe, transfer_tx(BOB, 3, 0), outsider))
    assert svc.get(h).proposer == owners[1].address
    # a signature over the domain without the chain id is accepted, as by the Safe service
    no_chain = owners[2].sign(delegate_message_hash(outsider.address, totp_window()[1], None))
    SafeDelegates(svc).add(safe=safe, delegate=outsider.address, delegator=owners[2].address,
                           signature=no_chain, label="no chain id")
    assert SafeDelegates(svc).list(delegate=outsider.address)[0] == 2
    out = io.StringIO()
    export(svc.engine, out)
    assert out.getvalue().count('"safetx.delegate_add"') == 2
    assert no_chain.hex() not in out.getvalue()  # never the signature


def test_a_delegate_deletes_only_its_own_proposal(svc, multisig, owners, outsider, accounts,
                                                  chain, proposal, transfer_tx):
    safe, cid = multisig.address, chain.chain_id
    other = accounts[8]
    for delegate in (outsider.address, other.address):
        SafeDelegates(svc).add(safe=safe, delegate=delegate, delegator=owners[0].address,
                               signature=_signed(owners[0], delegate, cid), label="d")
    mine = svc.propose(proposal(cid, safe, transfer_tx(BOB, 4, 0), outsider))
    theirs = svc.propose(proposal(cid, safe, transfer_tx(BOB, 5, 0), owners[1]))

    def delete_sig(signer: Any, h: str) -> bytes:
        return signer.sign(delete_message_hash(cid, safe, bytes.fromhex(h[2:]), totp_window()[0]))

    with pytest.raises(DeleteRefused):
        svc.delete(theirs, delete_sig(outsider, theirs))  # proposed by an owner, not by it
    signed_by_other = bytes(Account.unsafe_sign_hash(
        delete_message_hash(cid, safe, bytes.fromhex(mine[2:]), totp_window()[0]),
        other.private_key).signature)
    with pytest.raises(DeleteRefused):
        svc.delete(mine, signed_by_other)  # another delegate of the same owner
    assert svc.get(mine).status == Status.PENDING
    svc.delete(mine, delete_sig(outsider, mine))
    assert [r.safe_tx_hash for r in svc.list(safe)[1]] == [theirs]
    # once its delegation is gone, a delegate cannot delete what it proposed
    again = svc.propose(proposal(cid, safe, transfer_tx(BOB, 6, 0), outsider))
    assert SafeDelegates(svc).remove(delegate=outsider.address, delegator=owners[0].address,
                                     signature=_signed(owners[0], outsider.address, cid)) == 1
    with pytest.raises(DeleteRefused):
        svc.delete(again, delete_sig(outsider, again))
    assert svc.get(again).confirmations == ()  # the delegate's signature never confirmed
    assert safe_tx_hash(cid, safe, transfer_tx(BOB, 6, 0)).hex() == again[2:]


def test_an_owner_removed_on_chain_loses_its_delegations_for_that_safe(
        svc, multisig, owners, outsider, accounts, chain, transfer_tx, proposal):
    """As the Safe service: the indexer deletes the removed owner's delegations for the Safe, so
    re-adding the owner later does not revive them (a delegation for every Safe is kept)."""
    from eth_abi import encode

    from keeper.keys import SafeTx
    from keeper.safetx import SafeTxIndexer
    from strongroom_testkit import ZERO_ADDRESS

    safe, cid = multisig.address, chain.chain_id
    gone, kept = owners[2], owners[0]
    for delegator in (gone, kept):
        SafeDelegates(svc).add(safe=safe, delegate=outsider.address, delegator=delegator.address,
                               signature=_signed(delegator, outsider.address, cid), label="d")
    SafeDelegates(svc).add(safe=None, delegate=outsider.address, delegator=gone.address,
                           signature=_signed(gone, outsider.address, cid), label="all")
    indexer = SafeTxIndexer(svc, confirmations=0)
    indexer.run_once()
    data = bytes.fromhex("f8dc5dd9") + encode(["address", "address", "uint256"],
                                             [owners[1].address, gone.address, 2])
    tx = SafeTx(safe, 0, data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, 0)
    digest = safe_tx_hash(cid, safe, tx)
    sigs = b"".join(o.sign(digest) for o in sorted(owners[:2], key=lambda o: int(o.address, 16)))
    multisig.execTransaction(safe, 0, data, 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, sigs,
                             sender=accounts[3])
    assert gone.address not in svc.safe_info(safe).owners
    indexer.run_once()
    left = SafeDelegates(svc).list(delegate=outsider.address)[1]
    assert {(d.safe, d.delegator) for d in left} == {(safe, kept.address), (None, gone.address)}
    out = io.StringIO()
    export(svc.engine, out)
    assert '"safetx.delegate_owner_removed"' in out.getvalue()
    h = svc.propose(proposal(cid, safe, transfer_tx(BOB, 7, 1), outsider))
    assert svc.get(h).proposer == kept.address
