"""Chain follower on the fork: confirmations, anvil_reorg, fault injection (kill + restart)."""

from __future__ import annotations

import random

import pytest

from keeper.chain import Follower, FollowerConfig
from keeper.ledger import Ledger

pytestmark = pytest.mark.fork


def ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


def follower(w3, ledger, vault, confirmations: int, alerts=None) -> Follower:
    cfg = FollowerConfig(vault=vault.address, confirmations=confirmations,
                         start_block=w3.eth.block_number - 2)
    sink = (lambda k, m: alerts.append((k, m))) if alerts is not None else None
    return Follower(w3, ledger, cfg, on_alert=sink)


def client_eth(ledger: Ledger, client: str) -> int:
    return ledger.balance(ledger.client_account(client, "ETH")).credit_balance


def mine(w3, n: int) -> None:
    w3.provider.make_request("anvil_mine", [hex(n)])


def test_deposit_credited_after_n_confirmations_not_before(w3, ledger, vault, accounts):
    ledger.register_client_ref(ref(7), "client-7")
    f = follower(w3, ledger, vault, confirmations=3)
    vault.depositEth(ref(7), value=10**18, sender=accounts[2])
    f.run_until_synced()
    assert client_eth(ledger, "client-7") == 0
    mine(w3, 2)
    f.run_until_synced()
    assert client_eth(ledger, "client-7") == 0  # 2 blocks on top: not yet
    mine(w3, 1)
    f.run_until_synced()
    assert client_eth(ledger, "client-7") == 10**18
    mine(w3, 5)
    f.run_until_synced()
    assert client_eth(ledger, "client-7") == 10**18  # once
    assert ledger.verify_invariants() == []


def test_unknown_reference_goes_to_suspense_with_alert(w3, ledger, vault, accounts):
    alerts: list = []
    f = follower(w3, ledger, vault, confirmations=0, alerts=alerts)
    vault.depositEth(ref(99), value=5, sender=accounts[2])
    f.run_until_synced()
    assert ledger.balance(ledger.suspense_account("ETH")).credit_balance == 5
    assert alerts and alerts[0][0] == "unknown_client_ref"
    assert ledger.alerts()[0][0] == "unknown_client_ref"


def test_reorg_removes_then_reincludes_credit_once(w3, ledger, vault, accounts):
    ledger.register_client_ref(ref(1), "c1")
    f = follower(w3, ledger, vault, confirmations=0)
    tx = vault.depositEth(ref(1), value=3 * 10**18, sender=accounts[3])
    mine(w3, 1)
    f.run_until_synced()
    assert client_eth(ledger, "c1") == 3 * 10**18
    depth = w3.eth.block_number - tx.block_number + 1
    # reorg that drops the deposit: the credit disappears
    assert "error" not in w3.provider.make_request("anvil_reorg", [depth, []])
    mine(w3, 1)
    f.run_until_synced()
    assert client_eth(ledger, "c1") == 0
    assert ledger.verify_invariants() == []
    # reorg that re-includes the same deposit (as a new tx from the same sender): credited once
    calldata = vault.depositEth.encode_input(ref(1))
    req = {"from": accounts[3].address, "to": vault.address, "value": hex(3 * 10**18),
           "data": "0x" + bytes(calldata).hex() if not isinstance(calldata, str) else calldata,
           "gas": hex(200_000)}
    resp = w3.provider.make_request("anvil_reorg", [2, [[req, 0]]])
    assert "error" not in resp, resp
    mine(w3, 1)
    f.run_until_synced()
    assert client_eth(ledger, "c1") == 3 * 10**18
    assert ledger.verify_invariants() == []


class CrashError(Exception):
    pass


def test_killed_at_random_points_then_restarted_matches_chain(w3, ledger, vault, accounts):
    rnd = random.Random(12)
    expected: dict[str, int] = {}
    for c in range(4):
        ledger.register_client_ref(ref(100 + c), f"k{c}")
    start = w3.eth.block_number - 1
    for _ in range(30):
        c = rnd.randrange(4)
        amt = rnd.randint(1, 10**18)
        vault.depositEth(ref(100 + c), value=amt, sender=accounts[4 + c])
        expected[f"k{c}"] = expected.get(f"k{c}", 0) + amt
    crashes = 0
    for _attempt in range(200):
        cfg = FollowerConfig(vault=vault.address, confirmations=0, start_block=start,
                             range_size=rnd.randint(1, 6), holder="restarted-keeper")
        f = Follower(w3, ledger, cfg)
        point = rnd.choice(["logs", "build", "hook_before", "hook_after", "none"])
        real_post_all, real_logs, real_build = ledger.post_all, f._read, f._decode

        def post_all(transfers, hook=None, point=point, real=real_post_all):
            def crashing_hook(conn):
                if point == "hook_before":
                    raise CrashError
                hook(conn)
                if point == "hook_after":
                    raise CrashError
            return real(transfers, hook=crashing_hook if hook else None)

        def logs(a, b, v, point=point, real=real_logs):
            out = real(a, b, v)
            if point == "logs":
                raise CrashError
            return out

        def build(d, v, g, point=point, real=real_build):
            out = real(d, v, g)
            if point == "build":
                raise CrashError
            return out

        ledger.post_all, f._read, f._decode = post_all, logs, build
        try:
            if f.step() < 0:
                break
        except CrashError:
            crashes += 1
        finally:
            ledger.post_all = real_post_all
    assert crashes > 5
    f = Follower(w3, ledger, FollowerConfig(vault=vault.address, confirmations=0,
                                            start_block=start, holder="restarted-keeper"))
    f.run_until_synced()
    for client, amt in expected.items():
        assert client_eth(ledger, client) == amt
    om = ledger.omnibus_account("ETH", f"vault:{vault.address.lower()}")
    assert ledger.balance(om).debits_posted == w3.eth.get_balance(vault.address)
    assert ledger.verify_invariants() == []


def test_every_posting_group_and_reorg_has_its_audit_record(w3, ledger, vault, accounts):
    import io

    from keeper.audit import AuditTrail

    ledger.register_client_ref(ref(5), "c5")
    f = follower(w3, ledger, vault, confirmations=0)
    tx = vault.depositEth(ref(5), value=2 * 10**18, sender=accounts[3])
    vault.depositEth(ref(99), value=7, sender=accounts[3])  # unknown ref: suspense + alert
    mine(w3, 1)
    f.run_until_synced()
    depth = w3.eth.block_number - tx.block_number + 1
    assert "error" not in w3.provider.make_request("anvil_reorg", [depth, []])
    mine(w3, 1)
    f.run_until_synced()
    with AuditTrail(ledger.engine) as trail:
        report = trail.verify()
        out = io.StringIO()
        trail.export(out)
    assert report.ok
    text = out.getvalue()
    assert text.count('"chain.posting"') == 2 and text.count('"chain.reorg"') == 1
    assert "unknown_client_ref" in text and tx.txn_hash.lower() in text.lower()
