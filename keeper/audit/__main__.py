"""``python -m keeper.audit verify|export|anchor``: the operator's and auditor's commands.

Exit codes: 0 the trail verified (or the export/anchor was written); 1 verification found
tampering (the first bad record is printed), or anchoring was refused because the chain fails
verification; 2 the command could not run (bad arguments, database or files unreachable, no
trusted key).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

OK, TAMPERED, FAILED = 0, 1, 2
DEFAULT_KEY = "audit-anchor"  # HSM key label that signs anchors


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m keeper.audit", description=__doc__.split("\n")[0])
    p.add_argument("--db", help="SQLAlchemy URL (default: the settings' database)")
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="walk the chain, check guards, head and anchors")
    v.add_argument("--anchors", type=Path, help="anchor file (JSON lines) to check as well")
    v.add_argument("--pubkey", action="append", help="trusted anchor key, compressed hex; repeat "
                   "for keys rotated out (default: the HSM pin record's key --key-label)")
    v.add_argument("--key-label", default=DEFAULT_KEY)
    v.add_argument("--all", action="store_true", help="print every problem, not just the first")
    e = sub.add_parser("export", help="records as JSON lines (see RECIPE.md)")
    e.add_argument("--out", type=Path, help="file to write (default: stdout)")
    e.add_argument("--from-seq", type=int, default=1)
    a = sub.add_parser("anchor", help="sign the chain head with the HSM key; append to a file")
    a.add_argument("--anchors", type=Path, required=True)
    a.add_argument("--key-label", default=DEFAULT_KEY)
    return p


def _engine(url: str | None):  # noqa: ANN202 - sqlalchemy Engine
    from keeper.config import load_settings
    from keeper.ledger.db import make_engine

    return make_engine(url or load_settings().database_url)


def _trusted_key(args: argparse.Namespace) -> list[bytes]:
    if args.pubkey:
        return [bytes.fromhex(k) for k in args.pubkey]
    from keeper.config import load_settings
    from keeper.keys.hsm import pinned_key

    return [pinned_key(load_settings().data_dir / "hsm" / "key-pins.json", args.key_label)]


def _verify(args: argparse.Namespace) -> int:
    from keeper.audit.trail import verify_trail

    key = _trusted_key(args) if args.anchors is not None else None
    report = verify_trail(_engine(args.db), args.anchors, key)
    print(report.summary())
    for p in report.problems if args.all else []:
        print(f"  seq {p.seq}: {p.reason}" if p.seq is not None else f"  {p.reason}")
    if args.anchors is None:
        print("note: no anchor file given: records deleted from the tail cannot be detected",
              file=sys.stderr)
    return OK if report.ok else TAMPERED


def _export(args: argparse.Namespace) -> int:
    from keeper.audit.trail import export

    # UTF-8, not ASCII: a tampered body may hold anything, and the auditor needs it verbatim
    if args.out is None:
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
        last = export(_engine(args.db), out, args.from_seq)
        out.flush()
        out.detach()
    else:
        with open(args.out, "w", encoding="utf-8", newline="\n") as fh:
            last = export(_engine(args.db), fh, args.from_seq)
    print(f"exported up to seq {last.seq} (hash {last.hash})", file=sys.stderr)
    return OK


def _anchor(args: argparse.Namespace) -> int:
    from keeper.audit.anchors import AnchorError
    from keeper.audit.trail import anchor
    from keeper.config import load_settings
    from keeper.keys.hsm import HsmSigner, ensure_local_token

    config = ensure_local_token(load_settings().data_dir, ec_keys=(args.key_label,))
    signer = HsmSigner(config, args.key_label)
    try:
        at = anchor(_engine(args.db), signer, args.anchors)
    except AnchorError as exc:
        print(str(exc), file=sys.stderr)
        return TAMPERED
    finally:
        signer.close()
    print(f"anchored seq {at.seq} head {at.hash} -> {args.anchors}")
    return OK


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return {"verify": _verify, "export": _export, "anchor": _anchor}[args.cmd](args)
    except Exception as exc:  # noqa: BLE001 - any failure to run is exit 2, with its reason
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
