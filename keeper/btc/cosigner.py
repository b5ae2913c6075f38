"""Cosigner command line: show what a PSBT pays, and sign it.

    python -m keeper.btc.cosigner show PSBT --descriptor DESC [--network regtest]
    python -m keeper.btc.cosigner sign PSBT --descriptor DESC (--xprv-file F | --hsm-conf C
        --hsm-token L --hsm-key K --hsm-pin-file P [--hsm-pubkey HEX]) [--out OUT]

Both print every input (its proven amount, and whether it re-derives from DESC) and output.
Signing signs only inputs of DESC, and refuses (exit 2, file untouched) a PSBT whose fee exceeds
``--max-fee`` sats or whose input amounts are not proven by full previous transactions. Keys are
never printed. An HSM key is pinned to the descriptor's fixed key (``--hsm-pubkey`` picks one when
the descriptor has several): a token showing another key is refused before anything is signed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bitcointx.core.psbt import PartiallySignedTransaction

from keeper.btc.descriptor import MultisigDescriptor
from keeper.btc.network import Network, get_network
from keeper.btc.psbt import PsbtError, PsbtSummary, load_psbt
from keeper.btc.signers import HdCosigner, KeyCosigner
from keeper.btc.wallet import summarize
from keeper.keys.hd.bip32 import VERSIONS, ExtendedPrivateKey


def _load_psbt(path: Path, network: Network) -> PartiallySignedTransaction:
    return load_psbt(path.read_bytes(), network)


def _parse_xprv(text: str) -> ExtendedPrivateKey:
    from embit import base58

    raw = base58.decode_check(text.strip())
    for net, (_, prv) in VERSIONS.items():
        if raw[:4] == prv:
            return ExtendedPrivateKey(
                raw[46:78], raw[13:45], raw[4], raw[5:9], int.from_bytes(raw[9:13], "big"), net
            )
    raise ValueError("not an xprv/tprv")


def _print_summary(s: PsbtSummary) -> None:
    for line in s.inputs:
        origin = f"ours {line.owned[0]}/{line.owned[1]}" if line.owned else "FOREIGN (not signed)"
        print(f"input  {line.txid}:{line.vout} {line.amount} sat {origin}")
    print(f"inputs total: {s.inputs_total} sat")
    for o in s.outputs:
        tag = "change" if o.is_change else "pay"
        print(f"{tag:6} {o.address} {o.amount} sat")
    print(f"fee: {s.fee} sat")
    done = sum(1 for n, m in s.signatures if n >= m)
    print(f"signed inputs: {done}/{len(s.signatures)}")


def _show(args: argparse.Namespace) -> int:
    network = get_network(args.network)
    desc, _ = MultisigDescriptor.parse(args.descriptor, network)
    _print_summary(summarize(_load_psbt(Path(args.psbt), network), desc))
    return 0


def _hsm_key(desc: MultisigDescriptor, chosen: str | None) -> bytes:
    """The descriptor's fixed (non-HD) key the HSM must hold: ``chosen`` (hex) if given, which
    must be one of them, else the only one. ``ValueError`` when there is none to pin to."""
    fixed = [k.pubkey for k in desc.keys if k.pubkey is not None]
    if chosen is not None:
        try:
            key = bytes.fromhex(chosen)
        except ValueError:
            raise ValueError("--hsm-pubkey is not hex") from None
        if key not in fixed:
            raise ValueError("--hsm-pubkey is not a fixed key of the descriptor")
        return key
    if len(fixed) != 1:
        raise ValueError(f"the descriptor has {len(fixed)} fixed keys: an HSM key must be pinned "
                         "to exactly one (name it with --hsm-pubkey)")
    return fixed[0]


def _cosigner(args: argparse.Namespace, desc: MultisigDescriptor) -> HdCosigner | KeyCosigner:
    if args.xprv_file:
        master = _parse_xprv(Path(args.xprv_file).read_text())
        return HdCosigner(master, desc, args.max_fee)
    if args.hsm_conf:
        from keeper.keys.hsm import HsmConfig, HsmSigner, KeyMismatchError
        from keeper.keys.hsm.config import SOFTHSM_MODULE
        from keeper.keys.secrets import PinSource

        cfg = HsmConfig(
            module=Path(args.hsm_module) if args.hsm_module else SOFTHSM_MODULE,
            token_label=args.hsm_token,
            pin=PinSource(env="STRONGROOM_HSM_PIN", file=Path(args.hsm_pin_file)),
            conf=Path(args.hsm_conf),
        )
        signer = HsmSigner(cfg, args.hsm_key, expected_public_key=_hsm_key(desc, args.hsm_pubkey))
        try:
            signer.check()  # the token must show, and sign with, the descriptor's key
        except KeyMismatchError as exc:
            signer.close()
            raise ValueError(f"refusing the token: {exc}") from exc
        return KeyCosigner(signer, desc, args.max_fee)
    raise ValueError("need --xprv-file or --hsm-conf")


def _sign(args: argparse.Namespace) -> int:
    network = get_network(args.network)
    desc, _ = MultisigDescriptor.parse(args.descriptor, network)
    try:
        cosigner = _cosigner(args, desc)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    psbt = _load_psbt(Path(args.psbt), network)
    _print_summary(cosigner.review(psbt))
    n = cosigner.sign(psbt)  # FeeTooHighError & co. propagate to main(): exit 2, file untouched
    out = Path(args.out or args.psbt)
    out.write_text(psbt.to_base64())
    print(f"added {n} signatures -> {out}")
    return 0 if n else 1


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(prog="python -m keeper.btc.cosigner")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("show", "sign"):
        sp = sub.add_parser(name)
        sp.add_argument("psbt")
        sp.add_argument("--descriptor", required=True)
        sp.add_argument("--network", default="regtest")
    sign = sub.choices["sign"]
    sign.add_argument("--xprv-file")
    sign.add_argument("--hsm-conf")
    sign.add_argument("--hsm-module")
    sign.add_argument("--hsm-token", default="strongroom")
    sign.add_argument("--hsm-key", default="btc-cosigner")
    sign.add_argument("--hsm-pin-file")
    sign.add_argument("--hsm-pubkey", help="the descriptor's fixed key the HSM holds (hex)")
    sign.add_argument("--max-fee", type=int, default=1_000_000)
    sign.add_argument("--out")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _show(args) if args.cmd == "show" else _sign(args)
    except PsbtError as exc:
        print(f"refusing: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
