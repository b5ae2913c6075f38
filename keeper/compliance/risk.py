"""Address risk scoring (0-30 auto-approve, 31-70 review, 71-100 block) behind an interface.

:class:`AddressRisk` is the analytics vendor's role; :class:`LabelledAddressRisk` is the local
implementation: labelled address lists (mixer, darknet, sanctioned, exchange) plus one hop of
exposure from transfer edges supplied by a :class:`TransferEdges` source (the forensics domain).
An address that received funds directly from a labelled address inherits a discounted score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from keeper.compliance.screening.addresses import normalise_address

APPROVE_MAX = 30
REVIEW_MAX = 70
LABEL_SCORES: dict[str, int] = {"sanctioned": 100, "mixer": 95, "darknet": 90, "exchange": 10}
#: one hop of exposure keeps this share (percent) of the source's score
HOP_PERCENT = 60


@dataclass(frozen=True)
class AddressScore:
    """A 0-100 score, its band (``approve`` / ``review`` / ``block``), the labels and why."""

    address: str
    score: int
    labels: frozenset[str]
    reason: str

    @property
    def band(self) -> str:
        """``approve`` (0-30), ``review`` (31-70) or ``block`` (71-100)."""
        if self.score <= APPROVE_MAX:
            return "approve"
        return "review" if self.score <= REVIEW_MAX else "block"


class AddressRisk(Protocol):
    """Scores an address (the analytics vendor's role)."""

    def score(self, address: str) -> AddressScore:
        """The risk of ``address``."""
        ...


class TransferEdges(Protocol):
    """Who sent funds directly to an address (mirrored chain data)."""

    def senders_to(self, address: str) -> Iterable[str]:
        """Addresses that transferred directly to ``address``."""
        ...


class StaticEdges:
    """Transfer edges from a list of (sender, receiver) pairs."""

    def __init__(self, edges: Iterable[tuple[str, str]]) -> None:
        """Index the pairs by receiver."""
        self._to: dict[str, set[str]] = {}
        for src, dst in edges:
            self._to.setdefault(normalise_address(dst), set()).add(normalise_address(src))

    def senders_to(self, address: str) -> Iterable[str]:
        """Senders to ``address`` (normalised)."""
        return self._to.get(normalise_address(address), ())


class LabelledAddressRisk:
    """Local :class:`AddressRisk`: labelled lists plus one discounted hop of exposure."""

    def __init__(self, labels: Mapping[str, Iterable[str]], edges: TransferEdges | None = None) -> None:
        """``labels``: label -> addresses (labels from :data:`LABEL_SCORES`)."""
        self._labels: dict[str, set[str]] = {}
        for label, addrs in labels.items():
            if label not in LABEL_SCORES:
                raise ValueError(f"unknown label {label!r}")
            for a in addrs:
                self._labels.setdefault(normalise_address(a), set()).add(label)
        self._edges = edges

    def _direct(self, key: str) -> tuple[int, frozenset[str]]:
        labels = frozenset(self._labels.get(key, ()))
        return max((LABEL_SCORES[x] for x in labels), default=0), labels

    def score(self, address: str) -> AddressScore:
        """Direct label score, or the best discounted score of a direct sender."""
        key = normalise_address(address)
        direct, labels = self._direct(key)
        best, via = 0, ""
        for src in self._edges.senders_to(key) if self._edges else ():
            s, src_labels = self._direct(normalise_address(src))
            hop = s * HOP_PERCENT // 100
            if hop > best and src_labels & {"sanctioned", "mixer", "darknet"}:
                best, via = hop, f"received from {src} ({', '.join(sorted(src_labels))})"
        if direct >= best:
            return AddressScore(
                key, direct, labels, f"labelled {', '.join(sorted(labels))}" if labels else "no label"
            )
        return AddressScore(key, best, labels, via)
