"""Acceptance: Safe tooling as the client of our signer service (issue 13).

safe-eth-py's ``TransactionServiceApi``, pointed at our API served by a real uvicorn server,
proposes a SafeTx for our Multisig on the fork, a second owner posts a confirmation through it,
the keeper executes it on the fork with its HSM key, and the same client reads it back as
executed. Refusals answer the Safe Transaction Service's status codes. SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from eth_account import Account
from hexbytes import HexBytes
from safe_eth.eth import EthereumClient, EthereumNetwork
from safe_eth.eth.eip712 import eip712_encode_hash
from safe_eth.safe import Safe
from safe_eth.safe.api import SafeAPIException
from safe_eth.safe.api.transaction_service_api import TransactionServiceApi
from safe_eth.safe.api.transaction_service_api.transaction_service_messages import (
    get_delegate_message,
    get_remove_transaction_message,
)

from api.main import create_app
from keeper.chain import SenderConfig
from keeper.config import Settings
from keeper.keys import Keyring
from keeper.ledger import Ledger
from keeper.safetx import SafeChain, SafeTxExecutor, SafeTxService, Status
from strongroom_testkit import DAY, free_port

BOB = "0x000000000000000000000000000000000000bEEF"
CAROL = "0x000000000000000000000000000000000000cA11"


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyring]:
    """The keeper's HSM keyring (``safe-signer`` pays the execution gas)."""
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    from keeper.keys.hsm import ensure_local_token

    config = ensure_local_token(Path(tmp_path_factory.mktemp("hsm")), ec_keys=("safe-signer",))
    ring = Keyring.from_hsm(config, labels=("safe-signer",))
    yield ring
    ring.close()


@pytest.fixture(scope="module")
def owners(accounts: Any) -> list[Any]:
    """Three owners of the multisig (ape test accounts with private keys)."""
    return [accounts[i] for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def multisig(project: Any, accounts: Any, owners: list[Any]) -> Any:
    """Our 2-of-3 Multisig, funded with 5 ETH (once per module: ape's isolation reverts what each
    test does on chain)."""
    msig = accounts[0].deploy(project.Multisig, [o.address for o in owners], 2,
                              [accounts[i].address for i in (6, 7, 8)], 2, 30 * DAY)
    accounts[0].transfer(msig, 5 * 10**18)
    return msig


@pytest.fixture
def served(database: Any, tmp_path: Path, chain: Any, multisig: Any) -> Iterator[dict[str, Any]]:
    """The API (create_app) on a real uvicorn server, with ``multisig`` registered."""
    url = database("safeapi", migrated=True)
    settings = Settings(data_dir=tmp_path, database_url=url, chain_id=chain.chain_id,
                        rpc_url=str(chain.provider.uri))
    app = create_app(settings)
    service = SafeTxService(app.state.engine, SafeChain(settings.rpc_url, settings.chain_id))
    service.register_safe(multisig.address)
    app.state.safetx = service
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    else:
        pytest.fail("uvicorn did not start")
    ledger = Ledger(url, group_commit=False)
    try:
        yield {"base": f"http://127.0.0.1:{port}", "service": service, "ledger": ledger}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ledger.close()


@pytest.fixture
def client(chain: Any) -> EthereumClient:
    """safe-eth-py's view of the fork."""
    return EthereumClient(str(chain.provider.uri), use_request_caching=False)


@pytest.fixture
def api(served: dict[str, Any], client: EthereumClient) -> TransactionServiceApi:
    """Safe tooling's Transaction Service client, pointed at our base URL."""
    return TransactionServiceApi(EthereumNetwork.MAINNET, ethereum_client=client,
                                 base_url=served["base"])


def _safe_tx(client: EthereumClient, safe: str, to: str, value: int, nonce: int) -> Any:
    return Safe(safe, client).build_multisig_tx(to, value, b"", safe_nonce=nonce)


def _post(base: str, safe: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{base}/api/v2/safes/{safe}/multisig-transactions/", json=body,
                         timeout=10)


def _body(safe_tx: Any, sender: str, signature: bytes | None) -> dict[str, Any]:
    """The proposal body exactly as ``TransactionServiceApi.post_transaction`` builds it."""
    return {"to": safe_tx.to, "value": safe_tx.value, "data": None,
            "operation": safe_tx.operation, "gasToken": safe_tx.gas_token,
            "safeTxGas": safe_tx.safe_tx_gas, "baseGas": safe_tx.base_gas,
            "gasPrice": safe_tx.gas_price, "refundReceiver": safe_tx.refund_receiver,
            "nonce": safe_tx.safe_nonce, "contractTransactionHash": "0x" + safe_tx.safe_tx_hash.hex(),
            "sender": sender, "signature": "0x" + signature.hex() if signature else None,
            "origin": "tests"}


def test_safe_tooling_proposes_confirms_and_reads_back_executed(
        api, served, client, multisig, owners, keyring, chain, fund):
    safe = multisig.address
    info = requests.get(f"{served['base']}/api/v1/safes/{safe}/", timeout=10).json()
    assert info["owners"] == [o.address for o in owners] and info["threshold"] == 2
    assert (info["nonce"], info["version"]) == ("0", "1.4.1")

    safe_tx = _safe_tx(client, safe, BOB, 10**17, 0)
    safe_tx.sign(owners[0].private_key)
    assert api.post_transaction(safe_tx)
    h = safe_tx.safe_tx_hash
    second = _safe_tx(client, safe, BOB, 10**17, 0)
    assert api.post_signatures(h, second.sign(owners[1].private_key))

    pending, tx_hash = api.get_safe_transaction(h)
    assert tx_hash is None and pending.safe_tx_hash == h
    assert sorted(pending.signers) == sorted(o.address for o in owners[:2])

    executor = SafeTxExecutor(served["service"], keyring, alert=served["ledger"].raise_alert,
                              sender_config=SenderConfig(300 * 10**9, 60, confirmations=1))
    fund(executor.address)
    before = chain.provider.get_balance(BOB)
    assert executor.run_once() == 1

    executed, tx_hash = api.get_safe_transaction(h)
    assert tx_hash is not None
    receipt = chain.provider.web3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1 and receipt["from"] == executor.address
    assert chain.provider.get_balance(BOB) == before + 10**17
    listed = api.get_transactions(safe, executed=True)
    assert [t["safeTxHash"] for t in listed] == ["0x" + h.hex()]
    assert listed[0]["isExecuted"] is True and listed[0]["isSuccessful"] is True
    assert listed[0]["transactionHash"] == "0x" + bytes(tx_hash).hex()
    assert {c["owner"] for c in listed[0]["confirmations"]} == {o.address for o in owners[:2]}
    assert api.get_transactions(safe, executed=False) == []

    # the executed nonce cannot be proposed again; confirmations of an executed tx are refused
    reuse = _safe_tx(client, safe, CAROL, 1, 0)
    sig = reuse.sign(owners[0].private_key)
    r = _post(served["base"], safe, _body(reuse, owners[0].address, sig))
    assert r.status_code == 422 and "already executed" in r.text
    r = requests.post(f"{served['base']}/api/v1/multisig-transactions/0x{h.hex()}/confirmations/",
                      json={"signature": "0x" + second.sign(owners[2].private_key).hex()},
                      timeout=10)
    assert r.status_code == 400 and "executed" in r.text


def test_refusals_answer_the_safe_services_codes(api, served, client, multisig, owners,
                                                 accounts):
    base, safe = served["base"], multisig.address
    outsider = accounts[9]
    tx = _safe_tx(client, safe, CAROL, 5, 0)
    own = tx.sign(owners[0].private_key)

    wrong = _body(tx, owners[0].address, own)
    wrong["value"] = 6  # the hash no longer matches the fields
    r = _post(base, safe, wrong)
    assert r.status_code == 422 and "does not match" in r.json()["nonFieldErrors"][0]

    tx_out = _safe_tx(client, safe, CAROL, 5, 0)
    r = _post(base, safe, _body(tx_out, outsider.address, tx_out.sign(outsider.private_key)))
    assert r.status_code == 422 and "not an owner" in r.text  # non-owner sender

    tx_mixed = _safe_tx(client, safe, CAROL, 5, 0)
    tx_mixed.sign(owners[0].private_key)
    tx_mixed.sign(outsider.private_key)
    r = _post(base, safe, _body(tx_mixed, owners[0].address, tx_mixed.signatures))
    assert r.status_code == 422 and "not an owner" in r.text  # non-owner signature

    r = _post(base, safe, _body(tx, owners[1].address, own))
    assert r.status_code == 422 and "does not match sender" in r.text

    r = _post(base, owners[0].address, _body(tx, owners[0].address, own))
    assert r.status_code == 404  # not a Safe served here
    r = _post(base, safe.lower(), _body(tx, owners[0].address, own))
    assert r.status_code == 422 and r.json()["code"] == 1
    r = requests.get(f"{base}/api/v2/multisig-transactions/0x{'00' * 32}/", timeout=10)
    assert r.status_code == 404
    assert requests.get(f"{base}/api/v2/safes/{safe}/multisig-transactions/",
                        timeout=10).json()["count"] == 0  # nothing stored by any refusal

    assert _post(base, safe, _body(tx, owners[0].address, own)).status_code == 201
    confirm = f"{base}/api/v1/multisig-transactions/0x{tx.safe_tx_hash.hex()}/confirmations/"
    r = requests.post(confirm, json={"signature": "0x" + own.hex()}, timeout=10)
    assert r.status_code == 400 and "duplicated" in r.text  # owner 0 confirmed already
    other = _safe_tx(client, safe, CAROL, 5, 0).sign(outsider.private_key)
    r = requests.post(confirm, json={"signature": "0x" + other.hex()}, timeout=10)
    assert r.status_code == 400 and "not an owner" in r.text
    r = requests.post(confirm, json={"signature": "0x1234"}, timeout=10)
    assert r.status_code == 400
    listed = requests.get(confirm, timeout=10).json()
    assert [c["owner"] for c in listed["results"]] == [owners[0].address]
    assert listed["results"][0]["signatureType"] == "EOA"

    with pytest.raises(SafeAPIException):
        api.post_signatures(tx.safe_tx_hash, own)


def test_delete_by_proposer_through_safe_tooling(api, served, client, multisig, owners, chain):
    safe = multisig.address
    tx = _safe_tx(client, safe, CAROL, 7, 0)
    tx.sign(owners[0].private_key)
    api.post_transaction(tx)
    h = "0x" + tx.safe_tx_hash.hex()
    message = get_remove_transaction_message(safe, tx.safe_tx_hash, chain.chain_id)
    digest = eip712_encode_hash(message)

    def sign(owner: Any) -> str:
        return "0x" + bytes(Account.unsafe_sign_hash(digest, owner.private_key).signature).hex()

    with pytest.raises(SafeAPIException):
        api.delete_transaction(h, sign(owners[1]))  # not the proposer
    assert served["service"].get(h).status == Status.PENDING
    assert api.delete_transaction(h, sign(owners[0]))
    r = requests.get(f"{served['base']}/api/v2/multisig-transactions/{h}/", timeout=10)
    assert r.status_code == 404
    assert HexBytes(h) == tx.safe_tx_hash


# ------------------------------------------------------------------------------- delegates
def _delegate_sig(api: TransactionServiceApi, delegate: str, signer: Any) -> bytes:
    """``signer``'s signature of the service's ``Delegate`` message (EIP-712, this hour's totp),
    the hash built by safe-eth-py itself."""
    digest = api.create_delegate_message_hash(delegate)
    return bytes(Account.unsafe_sign_hash(digest, signer.private_key).signature)


def test_delegate_added_listed_proposes_and_is_removed_through_safe_tooling(
        api, served, client, multisig, owners, accounts, keyring, fund):
    base, safe = served["base"], multisig.address
    delegate, outsider = accounts[5], accounts[9]
    assert api.add_delegate(delegate.address, owners[0].address, "ops desk",
                            _delegate_sig(api, delegate.address, owners[0]), safe_address=safe)
    assert api.get_delegates(safe) == [{"safe": safe, "delegate": delegate.address,
                                        "delegator": owners[0].address, "label": "ops desk",
                                        "expiryDate": None}]

    # the delegate proposes; its signature is not a confirmation
    tx = _safe_tx(client, safe, CAROL, 9, 0)
    tx.sign(delegate.private_key)
    assert api.post_transaction(tx)
    h = "0x" + tx.safe_tx_hash.hex()
    got = requests.get(f"{base}/api/v2/multisig-transactions/{h}/", timeout=10).json()
    assert (got["proposer"], got["proposedByDelegate"]) == (owners[0].address, delegate.address)
    assert got["confirmations"] == [] and got["confirmationsRequired"] == 2
    api.post_signatures(tx.safe_tx_hash, _safe_tx(client, safe, CAROL, 9, 0)
                        .sign(owners[1].private_key))
    executor = SafeTxExecutor(served["service"], keyring, alert=served["ledger"].raise_alert,
                              sender_config=SenderConfig(300 * 10**9, 60, confirmations=1))
    fund(executor.address)
    assert executor.run_once() == 0  # one owner confirmation: below the threshold of 2
    assert served["service"].get(h).status == Status.PENDING
    assert [c.owner for c in served["service"].get(h).confirmations] == [owners[1].address]
    # a delegate's signature among owners' is refused, as by the Safe service
    both = _safe_tx(client, safe, CAROL, 10, 0)
    both.sign(delegate.private_key)
    both.sign(owners[2].private_key)
    r = _post(base, safe, _body(both, delegate.address, both.signatures))
    assert r.status_code == 422 and "one signature" in r.text

    # removal by the delegator; the delegate can no longer propose
    assert api.remove_delegate(delegate.address, owners[0].address,
                               _delegate_sig(api, delegate.address, owners[0]), safe_address=safe)
    assert api.get_delegates(safe) == []
    late = _safe_tx(client, safe, CAROL, 11, 0)
    late.sign(delegate.private_key)
    r = _post(base, safe, _body(late, delegate.address, late.signatures))
    assert r.status_code == 422 and "not an owner or delegate" in r.text
    with pytest.raises(SafeAPIException):  # nothing left to remove: 404
        api.remove_delegate(delegate.address, owners[0].address,
                            _delegate_sig(api, delegate.address, owners[0]), safe_address=safe)

    # a delegate may also remove itself (signing the same message)
    assert api.add_delegate(delegate.address, owners[1].address, "desk 2",
                            _delegate_sig(api, delegate.address, owners[1]), safe_address=safe)
    assert api.remove_delegate(delegate.address, owners[1].address,
                               _delegate_sig(api, delegate.address, delegate), safe_address=safe)
    assert api.get_delegates(safe) == []
    assert outsider.address not in {d["delegate"] for d in api.get_delegates(safe)}


def test_forged_or_unauthorised_delegations_are_refused_400(api, served, multisig, owners,
                                                            accounts):
    base, safe = served["base"], multisig.address
    delegate, outsider = accounts[5], accounts[9]
    url = f"{base}/api/v2/delegates/"

    def add(delegator: str, signature: bytes, **extra: Any) -> requests.Response:
        return requests.post(url, json={"safe": safe, "delegate": delegate.address,
                                        "delegator": delegator, "label": "x",
                                        "signature": "0x" + signature.hex(), **extra}, timeout=10)

    forged = _delegate_sig(api, delegate.address, outsider)  # an outsider signs for owner 0
    r = add(owners[0].address, forged)
    assert r.status_code == 400 and "does not match" in r.text
    with pytest.raises(SafeAPIException):
        api.add_delegate(delegate.address, owners[0].address, "x", forged, safe_address=safe)
    other = _delegate_sig(api, outsider.address, owners[0])  # owner 0 signed another delegate
    assert add(owners[0].address, other).status_code == 400
    r = add(outsider.address, forged)  # validly signed, but not by an owner of the Safe
    assert r.status_code == 400 and "not an owner" in r.text
    old = Account.unsafe_sign_hash(eip712_encode_hash({  # a signature of three hours ago
        **get_delegate_message(delegate.address, 1),
        "message": {"delegateAddress": delegate.address, "totp": int(time.time()) // 3600 - 3}}),
        owners[0].private_key).signature
    assert add(owners[0].address, bytes(old)).status_code == 400
    assert add(owners[0].address, b"\x01" * 65).status_code == 400
    assert add(owners[0].address, _delegate_sig(api, delegate.address, owners[0]),
               label="").status_code == 400
    assert add(owners[0].address, _delegate_sig(api, delegate.address, owners[0]),
               expiryDate="2020-01-01T00:00:00Z").status_code == 400
    assert add(owners[0].address.lower(),
               _delegate_sig(api, delegate.address, owners[0])).status_code == 400
    assert requests.post(url, json=[1], timeout=10).status_code == 400
    assert api.get_delegates(safe) == []  # nothing stored by any refusal

    assert api.add_delegate(delegate.address, owners[0].address, "x",
                            _delegate_sig(api, delegate.address, owners[0]), safe_address=safe)
    r = requests.delete(f"{url}{delegate.address}/", json={
        "safe": safe, "delegator": owners[0].address, "signature": "0x" + forged.hex()},
        timeout=10)
    assert r.status_code == 400  # neither the delegator's nor the delegate's signature
    r = requests.delete(f"{url}{delegate.address.lower()}/", json={
        "delegator": owners[0].address, "signature": "0x" + forged.hex()}, timeout=10)
    assert r.status_code == 422 and r.json()["code"] == 1
    assert [d["delegate"] for d in api.get_delegates(safe)] == [delegate.address]
    r = add(owners[0].address, _delegate_sig(api, delegate.address, owners[0]),
            expiryDate="2099-01-01T05:30:00+05:30")  # relabels; the expiry is kept in UTC
    assert r.status_code == 201 and r.json()["expiryDate"] == "2099-01-01T00:00:00Z"
    assert [d["expiryDate"] for d in api.get_delegates(safe)] == ["2099-01-01T00:00:00Z"]


def test_a_removed_delegation_cannot_be_replayed(api, served, multisig, owners, accounts):
    """The delegator signs the same message to add and to remove: neither signature may add the
    delegate again once it is removed (in the Safe service it could, for up to two hours)."""
    safe, delegate = multisig.address, accounts[5]
    signed = _delegate_sig(api, delegate.address, owners[0])
    assert api.add_delegate(delegate.address, owners[0].address, "desk", signed, safe_address=safe)
    assert api.add_delegate(delegate.address, owners[0].address, "desk 2", signed,
                            safe_address=safe)  # a retry while registered relabels it
    assert [d["label"] for d in api.get_delegates(safe)] == ["desk 2"]
    assert api.remove_delegate(delegate.address, owners[0].address, signed, safe_address=safe)
    r = requests.post(f"{served['base']}/api/v2/delegates/", json={
        "safe": safe, "delegate": delegate.address, "delegator": owners[0].address,
        "label": "again", "signature": "0x" + signed.hex()}, timeout=10)
    assert r.status_code == 400 and "revoked" in r.text
    assert api.get_delegates(safe) == []
    # a delegation removed by the delegate itself: the delegator's signature is revoked too
    other = _delegate_sig(api, delegate.address, owners[1])
    assert api.add_delegate(delegate.address, owners[1].address, "d", other, safe_address=safe)
    assert api.remove_delegate(delegate.address, owners[1].address,
                               _delegate_sig(api, delegate.address, delegate), safe_address=safe)
    with pytest.raises(SafeAPIException):
        api.add_delegate(delegate.address, owners[1].address, "d", other, safe_address=safe)
