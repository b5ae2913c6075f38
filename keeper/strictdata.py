"""Strict data files from outside (policy, rules, execution records): the one home of the rules.

* :class:`Strict`: the pydantic base every such model derives from: unknown keys refused,
  strict types (no floats, booleans or numeric strings where integers are meant), frozen.
* :func:`faults`: a :class:`pydantic.ValidationError` as one line naming *every* bad field.
* :func:`decode`: JSON text to data with nesting deeper than ``max_depth`` refused *before*
  decoding (:func:`keeper.jsonsafe.too_deep`: where a library raised the recursion limit, as
  py_ecc does, a hostile ``[[[[...`` would crash the C decoder), duplicate keys and
  NaN/Infinity refused.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from keeper.jsonsafe import too_deep

MAX_DEPTH = 16


class Strict(BaseModel):
    """Base of strict file models: extra keys forbidden, strict types, frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def faults(exc: ValidationError) -> str:
    """Every error of ``exc`` as ``dotted.field: message``, joined by ``"; "``."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                     for e in exc.errors())


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a strict file accepts")


def decode(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """Decode JSON ``text``; :class:`ValueError` (saying why) for nesting deeper than
    ``max_depth``, a duplicate key, NaN/Infinity or malformed JSON."""
    try:
        if too_deep(text, max_depth):  # before the C decoder can overflow the stack
            raise ValueError(f"nesting deeper than {max_depth} levels")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise ValueError(f"nesting too deep: {exc}") from None
