"""Audit records and the one canonical encoding they are hashed in (see ``RECIPE.md``).

A stored record is one line of canonical JSON, the *envelope*::

    {"prev":"<64 hex>","record":{"actor":...,"at":...,"operation":...,"params":...,"result":...},"seq":N}

Canonical JSON here means Python's ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=True, allow_nan=False)``: keys sorted, no whitespace, pure ASCII (every non-ASCII
character escaped as ``\\uXXXX``). Values are restricted so every JSON tool reads them the same:
strings, booleans, null, lists, objects with string keys and integers within +-(2**53 - 1)
(IEEE doubles hold them exactly, so ``jq`` does too). Floats are refused: money is an integer of
base units and anything wider than 2**53 (a wei amount) is passed as its decimal string.

The record hash is ``sha256`` of the envelope's UTF-8 (= ASCII) bytes, as lowercase hex; ``prev``
is the hash of record ``seq - 1`` (:data:`GENESIS` for the first record). Because the keys sort as
``prev`` < ``record`` < ``seq``, the envelope always starts with ``{"prev":"<hash>","record":`` and
ends with ``,"seq":N}``: the verifier reads the link and the position at fixed places.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

_sha256 = hashlib.sha256
GENESIS = "0" * 64  # ``prev`` of record 1
MAX_SAFE_INT = 2**53 - 1  # integers beyond this must be decimal strings (jq reads doubles)
MAX_NAME = 200  # characters of an actor or operation name
MAX_RECORD_BYTES = 256 * 1024  # a bigger record is refused (and with it the change it records)
_DEPTH = 32
PREFIX = '{"prev":"'
_LINK_END = '","record":'
PREV_SLICE = slice(len(PREFIX), len(PREFIX) + 64)
RECORD_AT = len(PREFIX) + 64 + len(_LINK_END)  # where the record object starts in an envelope


class AuditRecordError(ValueError):
    """A record that cannot be written as given (a float, a huge integer, a bad name, too big)."""


class Appended(NamedTuple):
    """Where a record landed in the chain."""

    seq: int
    hash: str


class _BadValueError(Exception):
    """Internal: a refused value; carries the path to it, built only on the way out."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(why)
        self.where, self.why = where, why


def _check(value: Any, depth: int = 0) -> None:
    """Refuse anything the canonical encoding does not carry exactly (the happy path builds no
    strings: this runs for every field of every record)."""
    t = type(value)
    if t is str or t is bool or value is None:
        return
    if t is int:
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            return
        raise _BadValueError("", "integer beyond 2**53-1; pass it as a decimal string")
    if depth >= _DEPTH:
        raise _BadValueError("", f"nested deeper than {_DEPTH} levels")
    if t is dict or (t is not list and t is not tuple and isinstance(value, Mapping)):
        for k, v in value.items():
            if type(k) is not str:
                raise _BadValueError("", f"object key {k!r} is not a string")
            try:
                _check(v, depth + 1)
            except _BadValueError as bad:
                raise _BadValueError(f".{k}{bad.where}", bad.why) from None
        return
    if t is list or t is tuple:
        for i, v in enumerate(value):
            try:
                _check(v, depth + 1)
            except _BadValueError as bad:
                raise _BadValueError(f"[{i}]{bad.where}", bad.why) from None
        return
    raise _BadValueError("", f"{t.__name__} is not allowed in an audit record (no floats: amounts are "
                   "integers of base units or decimal strings)")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (checked: no floats, no unsafe integers)."""
    try:
        _check(value)
    except _BadValueError as bad:
        raise AuditRecordError(f"${bad.where}: {bad.why}") from None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def timestamp(at: datetime | None = None) -> str:
    """The record time format: UTC ISO 8601 with microseconds and ``Z``."""
    at = datetime.now(UTC) if at is None else at
    if at.tzinfo is None:
        raise AuditRecordError("timestamp must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME or not value.isprintable():
        raise AuditRecordError(f"{what} must be 1..{MAX_NAME} printable characters")
    return value


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited fact: who (``actor``) did what (``operation``) with which ``params`` and
    ``result``, and when (``at``, default: when it is prepared)."""

    actor: str
    operation: str
    params: Any = field(default_factory=dict)
    result: Any = None
    at: datetime | None = None

    def encode(self) -> str:
        """The canonical JSON of the record object (raises :class:`AuditRecordError`)."""
        text = canonical_json({
            "actor": _name("actor", self.actor), "at": timestamp(self.at),
            "operation": _name("operation", self.operation),
            "params": self.params, "result": self.result,
        })
        if len(text) > MAX_RECORD_BYTES:
            raise AuditRecordError(f"record is {len(text)} bytes, above {MAX_RECORD_BYTES}")
        return text


def envelope(prev: str, record_json: str, seq: int) -> str:
    """The stored line: canonical JSON of ``{"prev", "record", "seq"}`` (assembled directly:
    ``record_json`` is already canonical and the three keys are in sorted order)."""
    return f'{PREFIX}{prev}{_LINK_END}{record_json},"seq":{seq}}}'


def record_hash(line: str) -> str:
    """sha256 hex of an envelope line (what ``sha256sum`` prints for the line without newline)."""
    return _sha256(line.encode()).hexdigest()


def seq_suffix(seq: int) -> str:
    """How an envelope for position ``seq`` must end."""
    return f',"seq":{seq}}}'
