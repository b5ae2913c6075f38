"""Precision and recall of the name matcher on a labelled set of name pairs.

The labelled set is a CSV with columns ``category, query, listed, kind, label, trap``: ``label`` 1
for the same party, 0 for a different one; ``trap`` 1 for a known false-positive trap (a common word
alone, a shared given name). One home for the figures the test asserts and the benchmark prints.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from keeper.compliance.screening.matcher import DECLINE_ABOVE, REVIEW_FROM, NameScore, score_name


@dataclass(frozen=True)
class LabelledPair:
    """One labelled pair of names."""

    category: str
    query: str
    listed: str
    person: bool
    same: bool
    trap: bool


@dataclass(frozen=True)
class Quality:
    """Matcher figures at one threshold."""

    threshold: str
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int


def load_pairs(path: Path) -> list[LabelledPair]:
    """Read a labelled set (see the module docstring)."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [LabelledPair(r["category"], r["query"], r["listed"], r["kind"] == "person",
                             r["label"] == "1", r["trap"] == "1") for r in csv.DictReader(fh)]


def scores(pairs: list[LabelledPair]) -> list[tuple[LabelledPair, NameScore]]:
    """Every pair with its name score."""
    return [(p, score_name(p.query, p.listed, person=p.person)) for p in pairs]


def quality(scored: list[tuple[LabelledPair, NameScore]], at_least: float, name: str) -> Quality:
    """Precision and recall when a score of ``at_least`` or more counts as a hit."""
    tp = sum(1 for p, s in scored if p.same and s.score >= at_least)
    fp = sum(1 for p, s in scored if not p.same and s.score >= at_least)
    fn = sum(1 for p, s in scored if p.same and s.score < at_least)
    return Quality(name, tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0,
                   tp, fp, fn)


def at_thresholds(scored: list[tuple[LabelledPair, NameScore]]) -> list[Quality]:
    """Figures at the review threshold (>= 70) and the decline threshold (> 90)."""
    return [quality(scored, REVIEW_FROM, f"review (>= {REVIEW_FROM:g})"),
            quality(scored, DECLINE_ABOVE + 1e-9, f"decline (> {DECLINE_ABOVE:g})")]
