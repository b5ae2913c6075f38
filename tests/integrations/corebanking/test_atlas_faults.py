"""Failure injection: seeded 500s are retried (idempotent calls only) and never double-post,
a maintenance 503 is surfaced at once, latency past the client's timeout is survivable by
retrying with the same key."""

from __future__ import annotations

import random
import uuid

import pytest

from keeper.integrations.corebanking import (
    AtlasClient,
    AtlasOpsClient,
    CoreBankingRejectedError,
    CoreBankingUnavailableError,
    Faults,
)
from keeper.keys.secrets import Secret


def key() -> str:
    return str(uuid.uuid4())


def seed_where(rate: float, pattern: list[bool]) -> int:
    """The first seed whose first draws fail (True) / pass (False) as ``pattern`` says."""
    for seed in range(10_000):
        rng = random.Random(seed)
        if [rng.random() < rate for _ in pattern] == pattern:
            return seed
    raise AssertionError("no seed")


def buy(client, cid: str, k: str, cents: int = 100_00):
    return client.debit_for_buy(k, cid, cents, fee_cents=0, reference="b", asset="USDC",
                                asset_units=cents * 10**4, ledger_transfer_id="lt-" + k[:8])


def test_500s_before_the_handler_are_retried_to_one_posting(client, ops, funded, postings) -> None:
    cid = funded("F500", 1_000_00)
    ops.set_faults(Faults(error_rate=0.5, seed=seed_where(0.5, [True, True, False])))
    before, sent = postings(), client.attempts
    p = buy(client, cid, key())
    assert client.attempts - sent == 3
    assert postings() == before + 1 and p.balance_cents == 900_00


def test_a_500_after_the_posting_is_retried_without_a_second_posting(client, ops, funded,
                                                                      postings) -> None:
    """The answer is lost after ATLAS committed: the retry with the same key gets the first
    answer back."""
    cid = funded("FAFTER", 1_000_00)
    ops.set_faults(Faults(error_rate=0.5, error_when="after", seed=seed_where(0.5, [True, False])))
    before, sent = postings(), client.attempts
    p = buy(client, cid, key(), 300_00)
    assert client.attempts - sent == 2
    assert postings() == before + 1
    assert p.balance_cents == 700_00 == client.customer(cid).balance_cents


def test_persistent_500s_surface_as_unavailable_after_the_retries(client, ops, funded,
                                                                 postings) -> None:
    cid = funded("FDOWN", 1_000_00)
    ops.set_faults(Faults(error_rate=1.0))
    before, sent = postings(), client.attempts
    with pytest.raises(CoreBankingUnavailableError) as exc:
        buy(client, cid, key())
    assert exc.value.status == 500
    assert client.attempts - sent == client.retries + 1
    assert postings() == before


def test_maintenance_503_is_surfaced_at_once_and_writes_nothing(client, ops, funded, postings) -> None:
    cid = funded("FMAINT", 1_000_00)
    ops.set_faults(Faults(maintenance=True))
    before, sent = postings(), client.attempts
    with pytest.raises(CoreBankingUnavailableError) as exc:
        buy(client, cid, key())
    assert (exc.value.status, exc.value.retry_after_s) == (503, 60.0)
    assert client.attempts - sent == 1
    with pytest.raises(CoreBankingUnavailableError):
        client.fiat_balances()
    assert postings() == before
    ops.set_faults(Faults())
    assert client.customer(cid).balance_cents == 1_000_00


def test_failures_are_deterministic_under_a_seed(atlas, ops) -> None:
    """The same seed gives the same sequence of 500s, and that sequence is the seeded PRNG's."""
    once = AtlasClient(atlas.url, Secret(atlas.api_key), retries=0)
    try:
        runs = []
        for _ in range(2):
            ops.set_faults(Faults(error_rate=0.3, seed=1234))
            outcome = []
            for _ in range(20):
                try:
                    once.issuer_reserves("USDC")
                    outcome.append(False)
                except CoreBankingUnavailableError:
                    outcome.append(True)
            runs.append(outcome)
        rng = random.Random(1234)
        assert runs[0] == runs[1] == [rng.random() < 0.3 for _ in range(20)]
        assert any(runs[0]) and not all(runs[0])
    finally:
        once.close()


def test_a_write_that_timed_out_is_applied_once_on_retry(atlas, ops, funded, postings) -> None:
    """Latency past the client's timeout: the caller cannot know whether the debit applied;
    retrying with the same key never applies it twice."""
    cid = funded("FSLOW", 1_000_00)
    impatient = AtlasClient(atlas.url, Secret(atlas.api_key), timeout_s=0.3, retries=1,
                            backoff_s=0.01)
    try:
        ops.set_faults(Faults(latency_ms=800))
        k = key()
        before = postings()
        with pytest.raises(CoreBankingUnavailableError) as exc:
            buy(impatient, cid, k, 400_00)
        assert exc.value.status is None  # a timeout, not an answer
        ops.set_faults(Faults())
        p = buy(impatient, cid, k, 400_00)
        assert p.balance_cents == 600_00 == impatient.customer(cid).balance_cents
        assert postings() == before + 1
    finally:
        impatient.close()


def test_the_admin_endpoint_is_staff_only(atlas, ops) -> None:
    """The platform's key (least privilege) cannot switch ATLAS into maintenance."""
    as_platform = AtlasOpsClient(atlas.url, Secret(atlas.api_key), retries=0)
    try:
        with pytest.raises(CoreBankingRejectedError) as exc:
            as_platform.set_faults(Faults(maintenance=True))
        assert exc.value.status == 401
    finally:
        as_platform.close()
    wanted = Faults(latency_ms=1, error_rate=0.25, error_when="after", seed=7)
    assert ops.set_faults(wanted) == wanted == ops.faults()
