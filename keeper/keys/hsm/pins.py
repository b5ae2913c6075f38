"""Pinned public keys: the expected key of every key label, recorded at enrolment.

The record is a JSON object ``{label: compressed public key hex}`` kept beside the token's
config (``HsmConfig.pins``). It is the trust anchor of signing: every token (primary or
backup) and every signature is checked against it, so no failover can sign with another key.

``ensure_local_token`` writes it for the local SoftHSM2 token. For a Luna / CloudHSM
partition, record it once at the key ceremony and set ``HsmConfig.pins`` to it::

    enrol_pins(path, token_public_keys(config, ("eth-hot", "safe-signer", "btc-cosigner")))
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import coincurve

from keeper.keys.hsm.errors import KeyMismatchError


def _canonical(pub: bytes) -> bytes:
    return coincurve.PublicKey(pub).format(compressed=True)


def load_pins(path: Path) -> dict[str, bytes]:
    """Read a pin record; raises ``ValueError`` on anything but valid secp256k1 keys."""
    raw = json.loads(Path(path).read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"pin record {path} is not a JSON object")
    return {str(label): _canonical(bytes.fromhex(pub)) for label, pub in raw.items()}


def pinned_key(path: Path, label: str) -> bytes:
    """The pinned compressed public key of ``label``; ``LookupError`` when it has none."""
    pins = load_pins(path)
    if label not in pins:
        raise LookupError(f"key label {label!r} has no pinned public key in {path}")
    return pins[label]


def enrol_pins(path: Path, found: Mapping[str, bytes]) -> dict[str, bytes]:
    """Add ``found`` keys to the record; refuse (``KeyMismatchError``) to change a pinned one.

    Written atomically (temp file + rename), mode 0600, so a crash leaves the old record.
    """
    path = Path(path)
    pins = load_pins(path) if path.exists() else {}
    for label, pub in found.items():
        pub = _canonical(pub)
        if label in pins and pins[label] != pub:
            raise KeyMismatchError(
                f"token key {label!r} is {pub.hex()}, but {pins[label].hex()} is pinned"
            )
        pins[label] = pub
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({k: v.hex() for k, v in sorted(pins.items())}, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return pins
