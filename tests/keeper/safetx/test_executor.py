"""The keeper's executor and indexer on the fork: execute at threshold with the HSM key after a
simulation, refuse what would revert, replace / expire the rest, survive a restart between
broadcast and receipt, index executions made outside the service, alert on quorum loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keeper.chain import SenderConfig
from keeper.keys import safe_tx_hash
from keeper.safetx import (
    QUORUM_UNREACHABLE,
    RECOVERY_PENDING,
    SIMULATION_FAILED,
    ConfirmationRefused,
    ProposalRefused,
    SafeTxExecutor,
    SafeTxIndexer,
    Status,
)

BOB = "0x000000000000000000000000000000000000bEEF"
SENDER = SenderConfig(max_fee_wei=300 * 10**9, bump_after_s=60, confirmations=1)


@pytest.fixture
def executor(service, keyring, ledger, fund):
    """The executor paying gas from the HSM key ``safe-signer``; alerts go to the ledger."""
    ex = SafeTxExecutor(service, keyring, alert=ledger.raise_alert, max_age=timedelta(days=7),
                        sender_config=SENDER)
    fund(ex.address)
    return ex


@pytest.fixture
def confirmed(proposal, transfer_tx):
    """``confirmed(service, chain, msig, owners, value, nonce=0)``: propose ``value`` wei to BOB
    at ``nonce`` by owner 0 and confirm by owner 1; returns the safeTxHash."""

    def make(service, chain, msig, owners, value, nonce=0):
        tx = transfer_tx(BOB, value, nonce)
        h = service.propose(proposal(chain.chain_id, msig.address, tx, owners[0]))
        service.confirm(h, owners[1].sign(safe_tx_hash(chain.chain_id, msig.address, tx)))
        return h

    return make


def alerts(ledger, kind):
    return [a for a in ledger.alerts_after(0, 1000) if a[1] == kind]


def test_executes_at_threshold_with_hsm_key(service, executor, multisig, owners, chain, proposal,
                                            transfer_tx):
    before = chain.provider.get_balance(BOB)
    h = service.propose(proposal(chain.chain_id, multisig.address, transfer_tx(BOB, 7, 0),
                                 owners[0]))
    assert executor.run_once() == 0  # one confirmation of two: nothing sent
    assert service.get(h).status == Status.PENDING
    service.confirm(h, owners[1].sign(safe_tx_hash(chain.chain_id, multisig.address,
                                                   transfer_tx(BOB, 7, 0))))
    assert executor.run_once() == 1
    rec = service.get(h)
    assert rec.status == Status.EXECUTED and rec.is_successful is True
    receipt = chain.provider.web3.eth.get_transaction_receipt(rec.transaction_hash)
    assert receipt["from"] == executor.address == rec.executor
    assert chain.provider.get_balance(BOB) == before + 7
    assert multisig.call_view_method("nonce") == 1
    assert executor.run_once() == 0  # never twice
    with pytest.raises(ProposalRefused, match="already executed"):  # the nonce is used
        service.propose(proposal(chain.chain_id, multisig.address, transfer_tx(BOB, 8, 0),
                                 owners[0]))


def test_other_proposals_at_nonce_replaced(service, executor, multisig, owners, chain, proposal,
                                           transfer_tx, confirmed):
    first = confirmed(service, chain, multisig, owners, 1)
    second = confirmed(service, chain, multisig, owners, 2)
    pending_next = service.propose(proposal(chain.chain_id, multisig.address,
                                            transfer_tx(BOB, 3, 1), owners[0]))
    assert executor.run_once() == 1
    assert service.get(first).status == Status.EXECUTED
    assert service.get(second).status == Status.REPLACED
    assert service.get(pending_next).status == Status.PENDING


def test_reverting_tx_is_not_sent_and_alerted(service, executor, ledger, multisig, owners, chain,
                                              confirmed):
    h = confirmed(service, chain, multisig, owners, 10**30)  # more than the Safe holds
    sender_nonce = chain.provider.get_nonce(executor.address)
    assert executor.run_once() == 0
    rec = service.get(h)
    assert rec.status == Status.FAILED_SIMULATION and rec.note
    assert chain.provider.get_nonce(executor.address) == sender_nonce
    assert multisig.call_view_method("nonce") == 0
    assert [a[3] for a in alerts(ledger, SIMULATION_FAILED)] == [f"safetx:simulation:{h}"]


def test_stale_proposal_expires(service, executor, multisig, owners, chain, proposal, transfer_tx):
    h = service.propose(proposal(chain.chain_id, multisig.address, transfer_tx(BOB, 1, 0),
                                 owners[0]))
    executor.run_once(datetime.now(UTC) + timedelta(days=6))
    assert service.get(h).status == Status.PENDING
    executor.run_once(datetime.now(UTC) + timedelta(days=8))
    assert service.get(h).status == Status.EXPIRED


def test_restart_between_broadcast_and_receipt_executes_once(service, keyring, ledger, executor,
                                                             multisig, owners, chain, confirmed):
    before = chain.provider.get_balance(BOB)
    h = confirmed(service, chain, multisig, owners, 11)
    first = SafeTxExecutor(service, keyring, alert=ledger.raise_alert, receipt_wait_s=0.2,
                           sender_config=SENDER)
    chain.provider.make_request("evm_setAutomine", [False])
    try:
        assert first.run_once() == 1
        assert service.get(h).status == Status.SUBMITTED
        restarted = SafeTxExecutor(service, keyring, alert=ledger.raise_alert,
                                   sender_config=SENDER)
        assert restarted.run_once() == 0  # rebroadcasts the same bytes, sends nothing new
        assert service.get(h).status == Status.SUBMITTED
    finally:
        chain.provider.make_request("evm_setAutomine", [True])
    chain.mine()
    restarted.run_once()
    assert service.get(h).status == Status.EXECUTED
    assert chain.provider.get_balance(BOB) == before + 11
    assert multisig.call_view_method("nonce") == 1


def test_indexer_records_executions_made_elsewhere(service, multisig, owners, chain, accounts,
                                                   proposal, transfer_tx, confirmed):
    cid, safe = chain.chain_id, multisig.address
    proposed = confirmed(service, chain, multisig, owners, 5)
    rival = service.propose(proposal(cid, safe, transfer_tx(BOB, 6, 0), owners[0]))
    tx = transfer_tx(BOB, 5, 0)
    digest = safe_tx_hash(cid, safe, tx)
    sigs = b"".join(o.sign(digest) for o in sorted(owners[:2], key=lambda o: int(o.address, 16)))
    receipt = multisig.execTransaction(BOB, 5, b"", 0, 0, 0, 0, tx.gas_token,
                                       tx.refund_receiver, sigs, sender=accounts[3])
    outside = transfer_tx(BOB, 9, 1)  # never proposed to the service
    digest2 = safe_tx_hash(cid, safe, outside)
    sigs2 = b"".join(o.sign(digest2) for o in sorted(owners[1:], key=lambda o: int(o.address, 16)))
    receipt2 = multisig.execTransaction(BOB, 9, b"", 0, 0, 0, 0, tx.gas_token,
                                        tx.refund_receiver, sigs2, sender=accounts[3])
    indexer = SafeTxIndexer(service, confirmations=0)
    assert indexer.run_once() == 2
    rec = service.get(proposed)
    assert rec.status == Status.EXECUTED and rec.transaction_hash == receipt.txn_hash
    assert rec.executor == accounts[3].address and rec.is_successful is True
    assert service.get(rival).status == Status.REPLACED
    adopted = service.get("0x" + digest2.hex())
    assert adopted.status == Status.EXECUTED and adopted.transaction_hash == receipt2.txn_hash
    assert adopted.tx == outside and adopted.proposer is None
    assert indexer.run_once() == 0  # cursor moved: nothing read twice


def test_recovery_queued_alerts(service, multisig, owners, accounts, ledger, chain):
    indexer = SafeTxIndexer(service, alert=ledger.raise_alert, confirmations=0)
    new_owners = [accounts[i].address for i in (4, 5)]
    multisig.proposeRecovery(new_owners, 2, sender=accounts[6])
    indexer.run_once()
    assert alerts(ledger, RECOVERY_PENDING) == []
    multisig.proposeRecovery(new_owners, 2, sender=accounts[7])
    indexer.run_once()
    assert len(alerts(ledger, RECOVERY_PENDING)) == 1


def test_quorum_unreachable_alert_once(service, executor, ledger, multisig):
    state = service.safe_info(multisig.address)
    assert executor.check_quorum(state) is True
    broken = type(state)(state.address, state.nonce, 4, state.owners, state.version)
    assert executor.check_quorum(broken) is False
    assert executor.check_quorum(broken) is False
    assert len(alerts(ledger, QUORUM_UNREACHABLE)) == 1


def test_gas_above_the_executors_cap_is_not_sent(service, keyring, ledger, fund, multisig,
                                                 owners, chain, confirmed):
    capped = SafeTxExecutor(service, keyring, alert=ledger.raise_alert, max_gas=30_000,
                            sender_config=SENDER)
    fund(capped.address)
    h = confirmed(service, chain, multisig, owners, 1)
    assert capped.run_once() == 0
    rec = service.get(h)
    assert rec.status == Status.FAILED_SIMULATION and "cap" in rec.note
    assert multisig.call_view_method("nonce") == 0


def test_indexer_reads_only_confirmed_blocks(service, multisig, owners, chain, accounts,
                                             confirmed):
    h = confirmed(service, chain, multisig, owners, 4)
    rec = service.get(h)
    digest = bytes.fromhex(h[2:])
    sigs = b"".join(o.sign(digest) for o in sorted(owners[:2], key=lambda o: int(o.address, 16)))
    multisig.execTransaction(rec.tx.to, 4, b"", 0, 0, 0, 0, rec.tx.gas_token,
                             rec.tx.refund_receiver, sigs, sender=accounts[3])
    indexer = SafeTxIndexer(service, confirmations=3)
    assert indexer.run_once() == 0 and service.get(h).status == Status.PENDING
    chain.mine(3)
    assert indexer.run_once() == 1 and service.get(h).status == Status.EXECUTED


def test_contract_owner_signature_confirms_and_executes(service, executor, multisig, owners,
                                                        project, accounts, chain, proposal,
                                                        transfer_tx):
    """A multisig owned by another of our multisigs: its EIP-1271 (v=0) confirmation is
    verified on chain by the service and accepted by execTransaction."""
    inner = multisig
    outer = accounts[0].deploy(project.Multisig, [inner.address, owners[0].address], 2,
                               [accounts[i].address for i in (6, 7, 8)], 2, 30 * 86400)
    accounts[0].transfer(outer, 10**18)
    service.register_safe(outer.address)
    before = chain.provider.get_balance(BOB)
    tx = transfer_tx(BOB, 12, 0)
    h = service.propose(proposal(chain.chain_id, outer.address, tx, owners[0]))
    preimage = bytes(outer.encodeTransactionData(tx.to, tx.value, tx.data, 0, 0, 0, 0,
                                                 tx.gas_token, tx.refund_receiver, 0))
    message_hash = bytes(inner.getMessageHash(preimage))
    inner_sig = b"".join(o.sign(message_hash)
                         for o in sorted(owners[:2], key=lambda o: int(o.address, 16)))
    contract_sig = (bytes(12) + bytes.fromhex(inner.address[2:]) + (65).to_bytes(32, "big")
                    + b"\x00" + len(inner_sig).to_bytes(32, "big") + inner_sig)
    one_owner_twice = contract_sig[:97] + owners[2].sign(message_hash) * 2
    with pytest.raises(ConfirmationRefused):  # the inner 2-of-3 refuses one owner twice
        service.confirm(h, one_owner_twice)
    assert service.confirm(h, contract_sig) == [inner.address]
    assert {c.signature_type for c in service.get(h).confirmations} == {
        "EOA", "CONTRACT_SIGNATURE"}
    assert executor.run_once() == 1
    assert service.get(h).status == Status.EXECUTED
    assert chain.provider.get_balance(BOB) == before + 12
