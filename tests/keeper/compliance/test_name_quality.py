"""The name matcher on the labelled set (tests/keeper/compliance/name_pairs.csv): recall at the
review threshold >= 0.95 and no known false-positive trap above the decline threshold."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from keeper.compliance.screening.matcher import DECLINE_ABOVE, Decision, score_name
from keeper.compliance.screening.quality import at_thresholds, load_pairs, scores

PAIRS = load_pairs(Path(__file__).with_name("name_pairs.csv"))


def test_labelled_set_is_big_and_covers_every_category():
    assert len(PAIRS) >= 300
    cats = Counter(p.category for p in PAIRS)
    for cat in ("transliteration", "reordered", "missing_middle", "initials", "title",
                "company_suffix", "trap", "accents_scripts"):
        assert cats[cat] >= 5, cat
    assert sum(p.trap for p in PAIRS) >= 20
    assert any(p.query == "CORP" for p in PAIRS)
    assert any(p.query == "George Bush" and "HABBASH" in p.listed for p in PAIRS)


def test_recall_at_review_threshold_and_no_trap_declined():
    scored = scores(PAIRS)
    review, decline = at_thresholds(scored)
    misses = [s.explain() for p, s in scored if p.same and s.score < 70]
    assert review.recall >= 0.95, misses
    traps = [s.explain() for p, s in scored if p.trap and s.score > DECLINE_ABOVE]
    assert traps == []
    assert decline.precision >= review.precision  # stricter threshold, no worse precision


@pytest.mark.parametrize(("query", "listed", "person"), [
    ("CORP", "ACME PETROCHEMICAL CORP", False),
    ("Trading Ltd", "RED FALCON TRADING LIMITED", False),
    ("Al", "AL-QA'IDA", False),
])
def test_common_words_alone_never_match(query, listed, person):
    result = score_name(query, listed, person=person)
    assert result.score == 0
    assert Decision.for_score(result.score) is Decision.PASS


def test_george_bush_is_not_george_habbash():
    result = score_name("George Bush", "HABBASH, George", person=True)
    assert result.score < 70
    assert "bush" in result.unmatched_query


def test_score_is_explained():
    result = score_name("Dr. Muammar Gaddafi", "QADHAFI, Muammar", person=True)
    assert Decision.for_score(result.score) is Decision.DECLINE_SAR
    hows = {(a.query, a.listed): a.how for a in result.aligned}
    assert hows[("gaddafi", "qadhafi")] == "phonetic"
    assert hows[("muammar", "muammar")] == "exact"
    assert "gaddafi~qadhafi:phonetic" in result.explain()


def test_levenshtein_budget_is_len_over_four():
    # 8 letters: 2 edits allowed, 3 not (and not a transliteration variant either)
    assert score_name("Kowalxxk", "KOWALCZYK", person=False).score == 0
    near = score_name("Kowalczik", "KOWALCZYK", person=False)
    assert near.aligned[0].how == "fuzzy" and near.aligned[0].edits == 1


def test_context_penalties_lower_the_score():
    base = score_name("Ivan Petrenko", "PETRENKO, Ivan", person=True)
    wrong = score_name("Ivan Petrenko", "PETRENKO, Ivan", person=True, query_country="UA",
                       countries=["RU"], query_birth_date="1970-01-01", birth_dates=["1980-05-05"])
    assert base.score == 100
    assert wrong.score == 70  # 100 - 20 - 15 - 25, floored at review: a strong name hit stays
    assert len(wrong.penalties) == 4  # the three, and the floor
    # different vocabularies (code vs name) are not a contradiction
    assert score_name("Ivan Petrenko", "PETRENKO, Ivan", person=True, query_country="UA",
                      countries=["Ukraine"]).score == 100


def test_number_mismatch_penalty():
    same = score_name("Unit 61398", "UNIT 61398")
    other = score_name("Ocean 7 Shipping", "OCEAN 9 SHIPPING")
    assert same.score == 100
    assert other.score < 70
    assert any("numbers" in why for why, _ in other.penalties)


def test_claimed_country_and_birth_date_cannot_clear_a_strong_name_hit():
    """A counterparty's country and birth date are its own claims: contradicting data lowers a
    strong name match (> 90) only as far as manual review, never to a pass."""
    lied = score_name("Ivan Petrenko", "PETRENKO, Ivan", person=True, query_country="UA",
                      countries=["RU"], query_birth_date="1990-01-01", birth_dates=["1980-05-05"])
    assert Decision.for_score(lied.score) is Decision.REVIEW
    assert len(lied.penalties) >= 3
    # a weaker name match still falls through to a pass on contradicting data
    weaker = score_name("Ivan Petrenko", "PETRENKO, Ivana Maria", person=True)
    assert 70 <= weaker.score <= 90
    contradicted = score_name("Ivan Petrenko", "PETRENKO, Ivana Maria", person=True,
                              query_country="UA", countries=["RU"])
    assert Decision.for_score(contradicted.score) is Decision.PASS


def test_malformed_birth_date_is_ignored_not_a_penalty():
    for junk in ("abc", "19", "1990/01/01", "01.01.1990", "9999-99-99x"):
        assert score_name("Ivan Petrenko", "PETRENKO, Ivan", person=True, query_birth_date=junk,
                          birth_dates=["1980-05-05"]).score == 100
