"""execTransaction: every signature kind, every revert path, no replay, failed calls change nothing."""

from __future__ import annotations

import ape
from msig_utils import (
    RECOVERY_DELAY,
    SafeTxParams,
    Sig,
    approved,
    assert_reverts,
    calldata,
    contract_sig,
    ecdsa,
    eth_sign,
    execute,
    msig_nonce,
    pack,
    sign_all,
    transfer_data,
    tx_hash,
)


def _as_plain_ecdsa(sig: Sig) -> Sig:
    """An eth_sign signature presented as a raw-hash ECDSA one (v 31/32 -> 27/28)."""
    return Sig(sig.owner, sig.static[:64] + bytes([sig.static[64] - 4]))


def _exec_hashes(msig, receipt, event="ExecutionSuccess") -> list[bytes]:
    return [bytes(log.txHash) for log in getattr(msig, event).from_receipt(receipt)]


def test_ecdsa_eth_transfer_3_of_5(cold, owner_accounts, keeper, outsider):
    tx = SafeTxParams(to=outsider.address, value=10**17)
    h = tx_hash(cold, tx)
    before_out, before_msig = outsider.balance, cold.balance
    receipt = execute(cold, tx, sign_all(cold, tx, owner_accounts[:3]), keeper)
    assert outsider.balance == before_out + 10**17
    assert cold.balance == before_msig - 10**17
    assert msig_nonce(cold) == 1
    assert _exec_hashes(cold, receipt) == [h]
    assert [log.payment for log in cold.ExecutionSuccess.from_receipt(receipt)] == [0]


def test_erc20_transfer_2_of_3_warm(warm, token, owner_accounts, keeper, outsider):
    tx = SafeTxParams(to=token.address, data=transfer_data(outsider.address, 250_000_000))
    execute(warm, tx, sign_all(warm, tx, owner_accounts[1:3]), keeper)
    assert token.balanceOf(outsider) == 250_000_000
    assert token.balanceOf(warm) == 10**12 - 250_000_000
    assert msig_nonce(warm) == 1


def test_mixed_ecdsa_eth_sign_and_approved_hash(cold, owner_accounts, keeper, outsider):
    tx = SafeTxParams(to=outsider.address, value=5)
    h = tx_hash(cold, tx)
    a, b, c = owner_accounts[0], owner_accounts[2], owner_accounts[4]
    with ape.reverts("GS030"):
        cold.approveHash(h, sender=outsider)
    receipt = cold.approveHash(h, sender=c)
    assert [(bytes(e.approvedHash), e.owner) for e in cold.ApproveHash.from_receipt(receipt)] == [
        (h, c.address)
    ]
    assert cold.approvedHashes(c, h) == 1
    sigs = pack([ecdsa(a.private_key, h), eth_sign(b.private_key, h), approved(c.address)])
    before = outsider.balance
    execute(cold, tx, sigs, keeper)
    assert outsider.balance == before + 5


def test_sender_owner_counts_implicitly(cold, owner_accounts, outsider):
    tx = SafeTxParams(to=outsider.address, value=7)
    h = tx_hash(cold, tx)
    sender = owner_accounts[3]
    sigs = pack([approved(sender.address)] + [ecdsa(a.private_key, h) for a in owner_accounts[:2]])
    # The same v=1 entry is rejected when someone else submits (nothing approved on-chain).
    assert_reverts(cold, "execTransaction", [*tx.args(), sigs], outsider, "GS025")
    execute(cold, tx, sigs, sender)
    assert msig_nonce(cold) == 1


def test_eip1271_contract_owner(
    chain, multisig_container, signer_1271, owner_accounts, keeper, recovery_accounts
):
    mock, inner_key = signer_1271
    msig = keeper.deploy(
        multisig_container,
        [mock.address, owner_accounts[0].address, owner_accounts[1].address],
        2,
        [a.address for a in recovery_accounts],
        2,
        RECOVERY_DELAY,
    )
    keeper.transfer(msig, 1000)
    tx = SafeTxParams(to=keeper.address, value=100)
    h = tx_hash(msig, tx)
    inner = ecdsa(inner_key, h).static  # the mock checks ECDSA over keccak256(data) == h
    sigs = pack([contract_sig(mock.address, inner), ecdsa(owner_accounts[0].private_key, h)])
    data = bytes(msig.encodeTransactionData(*tx.args(), 0))
    msig.checkSignatures(h, data, sigs)
    assert_reverts(msig, "checkSignatures", [h, data + b"\x00", sigs], owner_accounts[0], "GS027", send=False)

    # Offsets: inside the static part (GS021), length word out of bounds (GS022),
    # signature bytes out of bounds (GS023).
    static_mock = bytes(12) + bytes.fromhex(mock.address[2:])
    other = ecdsa(owner_accounts[0].private_key, h)
    ordered = sorted([("m", int(mock.address, 16)), ("o", int(other.owner, 16))], key=lambda x: x[1])

    def with_offset(offset: int, tail: bytes) -> bytes:
        parts = {"m": static_mock + offset.to_bytes(32, "big") + b"\x00", "o": other.static}
        return b"".join(parts[k] for k, _ in ordered) + tail

    full_tail = len(inner).to_bytes(32, "big") + inner
    assert_reverts(
        msig, "checkSignatures", [h, data, with_offset(64, full_tail)], owner_accounts[0], "GS021", send=False
    )
    assert_reverts(
        msig,
        "checkSignatures",
        [h, data, with_offset(130 + len(full_tail), full_tail)],
        owner_accounts[0],
        "GS022",
        send=False,
    )
    assert_reverts(
        msig,
        "checkSignatures",
        [h, data, with_offset(130, (len(inner) + 1).to_bytes(32, "big") + inner)],
        owner_accounts[0],
        "GS023",
        send=False,
    )

    mock.setAccept(False, sender=keeper)
    assert_reverts(msig, "execTransaction", [*tx.args(), sigs], keeper, "GS024")
    mock.setAccept(True, sender=keeper)
    before = keeper.balance
    receipt = execute(msig, tx, sigs, keeper)
    assert msig.balance == 900
    assert keeper.balance == before + 100 - receipt.total_fees_paid


def test_eip1271_signer_without_code_reverts(multisig_container, owner_accounts, keeper, recovery_accounts):
    """r names an owner EOA with v=0: the isValidSignature call fails, nothing executes."""
    msig = keeper.deploy(
        multisig_container,
        [a.address for a in owner_accounts[:2]],
        1,
        [a.address for a in recovery_accounts],
        2,
        RECOVERY_DELAY,
    )
    tx = SafeTxParams(to=keeper.address)
    sigs = pack([contract_sig(owner_accounts[0].address, b"\x01" * 65)])
    assert_reverts(msig, "execTransaction", [*tx.args(), sigs], keeper, None)
    assert msig_nonce(msig) == 0


def test_signature_set_rejections(cold, owner_accounts, outsider, keeper):
    tx = SafeTxParams(to=outsider.address, value=1)
    h = tx_hash(cold, tx)
    sigs = {a.address: ecdsa(a.private_key, h) for a in owner_accounts}
    by_addr = sorted(sigs.values(), key=lambda s: int(s.owner, 16))
    cases = {
        "below threshold": (pack(by_addr[:2]), "GS020"),
        "empty": (b"", "GS020"),
        "unsorted": (pack([by_addr[1], by_addr[0], by_addr[2]], sort=False), "GS026"),
        "duplicate": (pack([by_addr[0], by_addr[0], by_addr[1]], sort=False), "GS026"),
        "non-owner": (pack(by_addr[:2] + [ecdsa(outsider.private_key, h)]), "GS026"),
        "garbage": (pack(by_addr[:2]) + b"\x07" * 65, "GS026"),
        "wrong hash": (pack([ecdsa(a.private_key, b"\x01" * 32) for a in owner_accounts[:3]]), "GS026"),
        "eth_sign with v-4": (
            pack(by_addr[:2] + [_as_plain_ecdsa(eth_sign(owner_accounts[4].private_key, h))]),
            "GS026",
        ),
    }
    balance = outsider.balance
    for name, (blob, reason) in cases.items():
        assert_reverts(cold, "execTransaction", [*tx.args(), blob], keeper, reason)
        assert msig_nonce(cold) == 0, name
    assert outsider.balance == balance
    # Extra signatures beyond the threshold are ignored, as in Safe.
    execute(cold, tx, pack(by_addr), keeper)
    assert outsider.balance == balance + 1


def test_no_replay(cold, owner_accounts, outsider, keeper):
    tx = SafeTxParams(to=outsider.address, value=3)
    sigs = sign_all(cold, tx, owner_accounts[:3])
    execute(cold, tx, sigs, keeper)
    before = outsider.balance
    assert_reverts(cold, "execTransaction", [*tx.args(), sigs], keeper, "GS026")
    assert outsider.balance == before
    assert msig_nonce(cold) == 1
    # Signatures for a future nonce cannot run now either.
    future = sign_all(cold, tx, owner_accounts[:3], nonce=5)
    assert_reverts(cold, "execTransaction", [*tx.args(), future], keeper, "GS026")


def test_delegatecall_refused(cold, owner_accounts, token, keeper):
    tx = SafeTxParams(to=token.address, data=transfer_data(keeper.address, 1), operation=1)
    sigs = sign_all(cold, tx, owner_accounts[:3])
    assert_reverts(
        cold, "execTransaction", [*tx.args(), sigs], keeper, "operation must be CALL: delegatecall refused"
    )
    assert msig_nonce(cold) == 0
    assert list(cold.getOwners()) == [a.address for a in owner_accounts]


def test_gas_refunds_refused(cold, owner_accounts, keeper):
    tx = SafeTxParams(to=keeper.address, value=1, gas_price=1, base_gas=1, refund_receiver=keeper.address)
    assert_reverts(
        cold,
        "execTransaction",
        [*tx.args(), sign_all(cold, tx, owner_accounts[:3])],
        keeper,
        "gas refunds unsupported: gasPrice must be 0",
    )
    assert msig_nonce(cold) == 0


def test_failed_call_without_safe_tx_gas_reverts_everything(cold, token, owner_accounts, keeper, outsider):
    tx = SafeTxParams(to=token.address, data=transfer_data(outsider.address, 10**13))  # > balance
    before = (token.balanceOf(cold), token.balanceOf(outsider), cold.balance)
    assert_reverts(
        cold, "execTransaction", [*tx.args(), sign_all(cold, tx, owner_accounts[:3])], keeper, "GS013"
    )
    assert (token.balanceOf(cold), token.balanceOf(outsider), cold.balance) == before
    assert msig_nonce(cold) == 0


def test_failed_call_with_safe_tx_gas_consumes_nonce_only(cold, token, owner_accounts, keeper, outsider):
    tx = SafeTxParams(to=token.address, data=transfer_data(outsider.address, 10**13), safe_tx_gas=60_000)
    h = tx_hash(cold, tx)
    before = (token.balanceOf(cold), token.balanceOf(outsider), cold.balance)
    receipt = execute(cold, tx, sign_all(cold, tx, owner_accounts[:3]), keeper)
    assert _exec_hashes(cold, receipt, "ExecutionFailure") == [h]
    assert _exec_hashes(cold, receipt) == []
    assert (token.balanceOf(cold), token.balanceOf(outsider), cold.balance) == before
    assert msig_nonce(cold) == 1


def test_not_enough_gas_for_safe_tx_gas(cold, owner_accounts, keeper):
    tx = SafeTxParams(to=keeper.address, safe_tx_gas=5_000_000)
    assert_reverts(
        cold,
        "execTransaction",
        [*tx.args(), sign_all(cold, tx, owner_accounts[:3])],
        keeper,
        "GS010",
        gas=400_000,
    )
    assert msig_nonce(cold) == 0


def test_reentrant_exec_transaction_blocked(cold, owner_accounts, keeper, outsider):
    inner = SafeTxParams(to=outsider.address, value=1)
    inner_sigs = sign_all(cold, inner, owner_accounts[:3], nonce=1)
    nested = cold.execTransaction.encode_input(*inner.args(), inner_sigs)
    outer = SafeTxParams(to=cold.address, data=bytes(nested), safe_tx_gas=100_000)
    before = outsider.balance
    receipt = execute(cold, outer, sign_all(cold, outer, owner_accounts[:3]), keeper)
    assert len(cold.ExecutionFailure.from_receipt(receipt)) == 1
    assert outsider.balance == before
    assert msig_nonce(cold) == 1


def test_receive_eth_and_unknown_calls(cold, owner_accounts, keeper, outsider):
    receipt = keeper.transfer(cold, 12345)
    assert [(e.sender, e.value) for e in cold.SafeReceived.from_receipt(receipt)] == [(keeper.address, 12345)]
    with ape.reverts("unknown function"):
        keeper.transfer(cold, 1, data=calldata("nope()", [], []))
    tx = SafeTxParams(to=outsider.address)
    before = cold.balance
    receipt = execute(cold, tx, sign_all(cold, tx, owner_accounts[:3]), keeper, value=99)
    assert cold.balance == before + 99
    assert [e.value for e in cold.SafeReceived.from_receipt(receipt)] == [99]


def test_check_n_signatures_bounds(cold, owner_accounts):
    h = b"\x42" * 32
    sigs = pack([ecdsa(a.private_key, h) for a in owner_accounts])
    cold.checkNSignatures(h, b"", sigs, 5)
    assert_reverts(cold, "checkNSignatures", [h, b"", sigs[:-1], 5], owner_accounts[0], "GS020", send=False)
    # v=1 counts for the caller of the view itself.
    me = owner_accounts[0]
    cold.checkNSignatures(h, b"", pack([approved(me.address)]), 1, sender=me)
