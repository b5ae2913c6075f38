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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from keeper.jsontext import sorted_compact

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


def _where(at: tuple[Any, ...] | None) -> str:
    """The path of a value from the links the checker kept: ``(parent link, key or index)``."""
    parts: list[str] = []
    while at is not None:
        at, step = at
        parts.append(f"[{step}]" if type(step) is int else f".{step}")
    return "".join(reversed(parts))


def _check(value: Any) -> None:
    """Refuse anything the canonical encoding does not carry exactly. Iterative, in document
    order; leaves (strings, booleans, null, safe integers) are checked where their container is
    read and the path to a value is built only for a refusal (this runs for every field of
    every record)."""
    stack: list[tuple[Any, int, tuple[Any, ...] | None]] = [(value, 0, None)]
    while stack:
        v, depth, at = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if -MAX_SAFE_INT <= v <= MAX_SAFE_INT:
                continue
            raise _BadValueError(_where(at), "integer beyond 2**53-1; pass it as a decimal string")
        if depth >= _DEPTH:
            raise _BadValueError(_where(at), f"nested deeper than {_DEPTH} levels")
        if t is dict or (t is not list and t is not tuple and isinstance(v, Mapping)):
            items: Any = v.items()
            for k in v:
                if type(k) is not str:
                    raise _BadValueError(_where(at), f"object key {k!r} is not a string")
        elif t is list or t is tuple:
            items = enumerate(v)
        else:
            raise _BadValueError(_where(at), f"{t.__name__} is not allowed in an audit record (no "
                                 "floats: amounts are integers of base units or decimal strings)")
        later = []
        for k, x in items:
            tx = type(x)
            if tx is str or tx is bool or x is None or (
                    tx is int and -MAX_SAFE_INT <= x <= MAX_SAFE_INT):
                continue
            later.append((x, depth + 1, (at, k)))
        stack.extend(reversed(later))


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (checked: no floats, no unsafe integers), written
    by orjson where that is json.dumps' text (:func:`keeper.jsontext.sorted_compact`)."""
    try:
        _check(value)
    except _BadValueError as bad:
        raise AuditRecordError(f"${bad.where}: {bad.why}") from None
    return sorted_compact(value, ascii_only=True)


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


BATCH_ITEMS = 200  # changes per batch record (~100 KB for an order or a screen, far below the bound)


def batch_records(records: list[AuditRecord], size: int = BATCH_ITEMS) -> list[AuditRecord]:
    """The records of one transaction's many like changes, fewer: each run of consecutive
    records of one actor and operation becomes records of up to ``size`` changes
    (``<operation>.batch``, params ``{"items": [each params]}``, result ``{"items": [each
    result]}``, the time of the run's first record); a run of one stays as it is. Every change
    is in the hash chain as fully as alone (:func:`unbatch` reads them back one by one)."""
    out: list[AuditRecord] = []
    i = 0
    while i < len(records):
        first, j = records[i], i + 1
        while (j < len(records) and j - i < size and records[j].operation == first.operation
               and records[j].actor == first.actor):
            j += 1
        run = records[i:j]
        out.append(run[0] if len(run) == 1 else AuditRecord(
            first.actor, f"{first.operation}.batch", {"items": [r.params for r in run]},
            {"items": [r.result for r in run]}, first.at))
        i = j
    return out


def unbatch(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored record's changes one by one (a batch record's items as the records they were,
    sharing its time; any other record as it is)."""
    op = record.get("operation", "")
    params, result = record.get("params"), record.get("result")
    if not (op.endswith(".batch") and isinstance(params, dict) and isinstance(result, dict)
            and isinstance(params.get("items"), list) and isinstance(result.get("items"), list)):
        return [record]
    return [{**record, "operation": op[:-len(".batch")], "params": p, "result": r}
            for p, r in zip(params["items"], result["items"], strict=True)]
