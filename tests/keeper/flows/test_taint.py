"""Tainted sources (issue 12 acceptance, "tainted source on a sell"): the follower's deposit
postings name their on-chain sender; the addresses a client's coins came from are screened
(sanctions list + address risk) before the client may sell them.

Real parts: the chain follower's :class:`~keeper.chain.postings.Mapper` turns decoded ``Deposit``
logs into ledger postings on a migrated database (SQLite and PostgreSQL), a real sanctions list
parsed from our own JSON format, and the labelled address risk with one hop of exposure.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from keeper import clients
from keeper.chain import events as ev
from keeper.chain.postings import Mapper, deposit_reference, deposit_sender
from keeper.compliance import (
    ComplianceService,
    LabelledAddressRisk,
    ListVersion,
    RuleSet,
    Screener,
    StaticEdges,
    parse_list,
)
from keeper.flows.taint import deposit_sources, tainted_sources
from keeper.ledger import Ledger, TransferSpec, make_engine

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
VAULT = "0x" + "ab" * 20
USDC_TOKEN = "0x" + "a0" * 20
SANCTIONED = "0x" + "55" * 20
MIXER = "0x" + "66" * 20
NEAR_MIXER = "0x" + "77" * 20  # received straight from the mixer: one hop, review band
CLEAN = "0x" + "88" * 20


@pytest.fixture
def engine(database: Callable[[str], str]) -> Iterator[Engine]:
    url = database("taint", migrated=True)
    eng = make_engine(url)
    yield eng
    eng.dispose()


@pytest.fixture
def ledger(engine: Engine) -> Iterator[Ledger]:
    lg = Ledger(engine, group_commit=False)
    yield lg
    lg.close()


@pytest.fixture
def compliance(engine: Engine) -> ComplianceService:
    listed = parse_list(json.dumps({"format": "strongroom-list/1", "entries": [
        {"uid": "INT-9", "kind": "organization", "names": ["Bad Actor Ltd"],
         "addresses": [{"currency": "ETH", "address": SANCTIONED}]}]}).encode(), "own-json")
    screener = Screener([ListVersion("INTERNAL", 1, "own-json", "0" * 64, T0, listed.entries)])
    risk = LabelledAddressRisk({"mixer": [MIXER], "exchange": [CLEAN]},
                               StaticEdges([(MIXER, NEAR_MIXER)]))
    return ComplianceService(engine, RuleSet.load(), screener=screener, risk=risk,
                             clock=lambda: T0)


def onboard(engine: Engine, ledger: Ledger) -> tuple[str, str]:
    """A client and its bytes32 deposit reference."""
    with Session(engine) as s:
        c = clients.create_client(s, ledger, "Corp")
    return c.id, c.client_ref


_blocks = iter(range(100, 10**6))


def chain_deposit(ledger: Ledger, client_ref: str, sender: str, units: int) -> None:
    """A ``Deposit`` of the vault mapped and posted exactly as the follower does it."""
    block = next(_blocks)
    e = ev.Event("deposit", block, "0x" + f"{block:064x}", "0x" + uuid.uuid4().hex * 2, 0,
                 token=USDC_TOKEN, amount=units, vault=VAULT, client_ref=client_ref,
                 sender=sender)
    (group,) = Mapper(ledger, "vault", {USDC_TOKEN: "USDC"}, 1).groups([(e, f"ev:{block}")])
    for t in group.transfers:
        ledger.post(t)


def test_the_reference_round_trips_and_only_names_an_address() -> None:
    ref = deposit_reference("block 7 tx 0xab log 0", "0x" + "AB" * 20)
    assert deposit_sender(ref) == "0x" + "ab" * 20
    for other in (None, "", "block 7 tx 0xab log 0", "pay from 0x1234", "from " + "0x" + "zz" * 20,
                  ref + " ", ref.upper()):
        assert deposit_sender(other) is None


def test_a_deposit_posting_names_its_sender(ledger: Ledger, engine: Engine) -> None:
    client_id, ref = onboard(engine, ledger)
    chain_deposit(ledger, ref, CLEAN, 10**6)
    chain_deposit(ledger, ref, CLEAN, 2 * 10**6)
    chain_deposit(ledger, ref, SANCTIONED, 3 * 10**6)
    assert deposit_sources(ledger, client_id) == {CLEAN: 2, SANCTIONED: 1}


def test_each_kind_of_taint_is_found_and_clean_sources_are_not(
        ledger: Ledger, engine: Engine, compliance: ComplianceService) -> None:
    client_id, ref = onboard(engine, ledger)
    for sender in (CLEAN, SANCTIONED, MIXER, NEAR_MIXER, CLEAN):
        chain_deposit(ledger, ref, sender, 5 * 10**6)
    found = {t.address: t for t in tainted_sources(ledger, compliance, client_id)}
    assert set(found) == {SANCTIONED, MIXER, NEAR_MIXER}
    assert found[SANCTIONED].outcome == "block" and found[SANCTIONED].sar
    assert any("INTERNAL@v1 INT-9" in r for r in found[SANCTIONED].reasons)
    assert found[MIXER].outcome == "block" and "mixer" in " ".join(found[MIXER].reasons)
    assert found[NEAR_MIXER].outcome == "review" and not found[NEAR_MIXER].sar
    assert [t.address for t in tainted_sources(ledger, compliance, client_id)][0] == SANCTIONED


def test_only_this_clients_chain_deposits_count(ledger: Ledger, engine: Engine,
                                               compliance: ComplianceService) -> None:
    """Another client's tainted deposit, and a credit no chain event made (an on-us transfer
    whose free-text reference mimics a deposit's), do not taint this client."""
    mine, my_ref = onboard(engine, ledger)
    other, other_ref = onboard(engine, ledger)
    chain_deposit(ledger, my_ref, CLEAN, 10**6)
    chain_deposit(ledger, other_ref, SANCTIONED, 10**6)
    ledger.post(TransferSpec(uuid.uuid4().hex, ledger.client_account(other, "USDC"),
                             ledger.client_account(mine, "USDC"), 10,
                             reference=deposit_reference("block 1 tx 0x0 log 0", MIXER)))
    assert tainted_sources(ledger, compliance, mine) == []
    assert [t.address for t in tainted_sources(ledger, compliance, other)] == [SANCTIONED]
