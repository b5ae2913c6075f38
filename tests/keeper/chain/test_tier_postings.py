"""Tier events without a chain: hostile or malformed tier logs decode to nothing, only our own
moves between tiers are tier transfers, and a deposit is an internal move only when a tier sent
it (a top-up reference from anyone else goes to suspense, credits nobody, debits no tier)."""

from __future__ import annotations

import pytest

from keeper.assets import ZERO_ADDRESS
from keeper.chain import TOPUP_CLIENT_REF, tier_location
from keeper.chain import events as ev
from keeper.chain.pending import client_sighting
from keeper.chain.postings import Mapper
from keeper.ledger import Ledger
from strongroom_testkit.dbtemplate import fresh_url

VAULT, TOKEN = "0x" + "aa" * 20, "0x" + "bb" * 20
WARM, COLD, STRANGER = "0x" + "01" * 20, "0x" + "02" * 20, "0x" + "0e" * 20
TIERS = {WARM: 1, COLD: 2}


def word(n: int | str) -> str:
    return f"{int(n, 16) if isinstance(n, str) else n:064x}"


def raw(emitter: str, topics: list[str], data: str, index: int = 0) -> dict:
    return {"address": emitter, "topics": topics, "data": "0x" + data, "blockNumber": "0x10",
            "blockHash": "0x" + "cd" * 32, "transactionHash": "0x" + "ef" * 32,
            "logIndex": hex(index)}


def received(at: str, sender: str, wei: int) -> dict:
    return raw(at, [ev.SAFE_RECEIVED, "0x" + word(sender)], word(wei))


def transfer(src: str, dst: str, units: int, index: int = 0) -> dict:
    return raw(TOKEN, [ev.TRANSFER, "0x" + word(src), "0x" + word(dst)], word(units), index)


def deposit(sender: str, ref: str, units: int, index: int = 0) -> dict:
    return raw(VAULT, [ev.DEPOSIT, "0x" + word(TOKEN), "0x" + word(sender), ref], word(units),
               index)


@pytest.mark.parametrize("log", [
    raw(COLD, [ev.SAFE_RECEIVED], word(5)),  # sender missing
    raw(COLD, [ev.EXECUTION_SUCCESS], word(0)),  # safeTxHash missing
    raw(COLD, [ev.SAFE_RECEIVED, "0x" + word(WARM)], ""),  # no value word
    received(COLD, STRANGER, 5),  # an outsider's ETH: not ours to post (type 1 shows it)
    received(COLD, VAULT, 5),  # a sweep's ETH: the vault's Sweep posts it
    received(COLD, COLD, 5),  # a self-payment moves nothing
    transfer(STRANGER, COLD, 5),  # an outsider's token send to a tier
])
def test_foreign_or_malformed_tier_logs_decode_to_nothing(log: dict) -> None:
    assert ev.decode(log, {VAULT}, TIERS) == []


def test_only_moves_out_of_a_tier_are_tier_transfers() -> None:
    [eth] = ev.decode(received(COLD, WARM, 7), {VAULT}, TIERS)
    assert (eth.kind, eth.sender, eth.to, eth.tier, eth.token, eth.amount) == (
        "tier_transfer", WARM, COLD, 1, ZERO_ADDRESS, 7)
    [tok] = ev.decode(transfer(COLD, STRANGER, 9), {VAULT}, TIERS)
    assert (tok.kind, tok.sender, tok.to, tok.tier) == ("tier_transfer", COLD, STRANGER, 2)
    # into the vault: only the vault's side (the Deposit explains it), never twice
    assert [e.kind for e in ev.decode(transfer(COLD, VAULT, 9), {VAULT}, TIERS)] == ["transfer_in"]


@pytest.fixture
def ledger(tmp_path):
    from keeper.ledger import upgrade

    url = fresh_url(tmp_path / 'l.db')
    upgrade(url)
    lg = Ledger(url)
    yield lg
    lg.close()


def post(ledger: Ledger, logs: list[dict]) -> list:
    decoded = [(e, f"t{i}") for i, lg in enumerate(logs) for e in ev.decode(lg, {VAULT}, TIERS)]
    return Mapper(ledger, "vault", {TOKEN: "USDC"}, 0, TIERS).groups(decoded)


def test_a_top_up_reference_moves_a_tier_only_when_the_tier_sent_it(ledger: Ledger) -> None:
    ledger.register_client_ref("0x" + "07" * 32, "c1")
    topup = "0x" + TOPUP_CLIENT_REF.hex()
    groups = post(ledger, [deposit(COLD, topup, 40), transfer(COLD, VAULT, 40, 1),
                           deposit(STRANGER, topup, 3, 2), deposit(WARM, "0x" + "07" * 32, 5, 3)])
    om = ledger.omnibus_account("USDC", f"vault:{VAULT}")
    cold = ledger.omnibus_account("USDC", tier_location(2, COLD))
    warm = ledger.omnibus_account("USDC", tier_location(1, WARM))
    susp = ledger.suspense_account("USDC")
    legs = [(t.debit_account, t.credit_account, t.amount) for g in groups for t in g.transfers]
    # cold's top-up: internal; its token transfer is explained by the Deposit; a stranger's use
    # of the top-up reference: suspense, alerted; warm with a client's reference: still internal
    assert legs == [(om, cold, 40), (om, susp, 3), (om, warm, 5)]
    assert [a[0] for g in groups for a in g.alerts] == ["topup_not_from_tier"]


def test_a_tier_paying_the_vault_directly_is_an_internal_move(ledger: Ledger) -> None:
    [g] = post(ledger, [transfer(WARM, VAULT, 11)])
    om = ledger.omnibus_account("USDC", f"vault:{VAULT}")
    warm = ledger.omnibus_account("USDC", tier_location(1, WARM))
    assert [(t.debit_account, t.credit_account, t.amount) for t in g.transfers] == [(om, warm, 11)]
    assert g.alerts == []


def test_the_treasury_plans_top_ups_with_the_reference_the_follower_reads() -> None:
    import keeper.treasury.tiers as treasury_tiers

    assert treasury_tiers.TOPUP_CLIENT_REF == TOPUP_CLIENT_REF


def test_a_tier_deposit_naming_a_client_reference_is_never_shown_pending_to_that_client() -> None:
    tier, ref = "0x" + "77" * 20, "0x" + "ab" * 32
    e = ev.Event("deposit", 1, "0x" + "00" * 32, "0x" + "11" * 32, 0, ZERO_ADDRESS, 5,
                 vault="0x" + "99" * 20, client_ref=ref, sender=tier)
    tokens, refs = {ZERO_ADDRESS: "ETH"}, {ref: "alice"}
    assert client_sighting(e, tokens, refs) == ("alice", "ETH")  # from an outsider: pending
    assert client_sighting(e, tokens, refs, {tier: 1}) is None  # from the warm tier: internal
