"""``python -m keeper.trading.jurisdiction``: validate and show the jurisdiction rules.

* ``validate [--rules FILE]``: check a rules file; prints ``ok`` and a summary, or every fault;
* ``show [--rules FILE] [CODE]``: the rules as JSON, or only the entry governing ``CODE``
  (with the venues it leaves allowed);
* ``check [--rules FILE] ORDER_JSON``: the pre-trade decision for a parent order given as JSON
  (the fields of ``keeper.trading.types.ParentOrder``; ``estimated_notional`` optional).

Exit codes: 0 done (``check``: allowed), 1 ``check`` refused the order, 2 refused rules or input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from keeper import jsonsafe
from keeper.trading.jurisdiction.policy import JurisdictionPolicy
from keeper.trading.jurisdiction.rules import MAX_DEPTH, RulesError, load_rules
from keeper.trading.types import ParentOrder, Side


def _order(text: str) -> tuple[ParentOrder, int | None]:
    data = jsonsafe.loads(text, MAX_DEPTH)
    if not isinstance(data, dict):
        raise ValueError("the order must be a JSON object")
    est = data.pop("estimated_notional", None)
    fields = set(ParentOrder.__dataclass_fields__)
    if set(data) != fields:
        raise ValueError(f"the order needs exactly the fields {sorted(fields)}")
    ints = ("amount", "created_at", "limit_price", "estimated_notional")
    for name, value in {**data, "estimated_notional": est}.items():
        if name in ints and value is not None and type(value) is not int:
            raise ValueError(f"{name} must be an integer")
    return ParentOrder(**{**data, "side": Side(data["side"])}), est


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI (see the module docstring); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m keeper.trading.jurisdiction",
                                     description="Jurisdiction rules: validate, show, check an order")
    parser.add_argument("command", choices=("validate", "show", "check"))
    parser.add_argument("arg", nargs="?", help="show: a jurisdiction code; check: the order as JSON")
    parser.add_argument("--rules", help="rules file (default: the packaged rules.json)")
    args = parser.parse_args(argv)
    try:
        rules = load_rules(args.rules)
    except RulesError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    policy = JurisdictionPolicy(rules)
    if args.command == "validate":
        print(f"ok: version {rules.version}, {len(rules.jurisdictions)} entries "
              f"({', '.join(rules.jurisdictions)}), {len(rules.venues)} venues, sha256 {policy.digest}")
        return 0
    if args.command == "show":
        if args.arg is None:
            print(json.dumps(rules.model_dump(), indent=2))
            return 0
        key = policy.governing(args.arg)
        entry = rules.jurisdictions[key].model_dump()
        print(json.dumps({"code": args.arg, "governed_by": key, "disclaimer": rules.disclaimer,
                          "allowed_venues": sorted(policy.allowed_venues(args.arg)), **entry}, indent=2))
        return 0
    try:
        parent, est = _order(args.arg or "")
    except (ValueError, TypeError, RecursionError) as exc:
        print(f"order refused as input: {exc}", file=sys.stderr)
        return 2
    decision = policy.check_order(parent, est)
    print(json.dumps({"allowed": decision.allowed, "rule": decision.rule, "reason": decision.reason,
                      "governed_by": policy.governing(parent.jurisdiction)}))
    return 0 if decision.allowed else 1


if __name__ == "__main__":
    raise SystemExit(main())
