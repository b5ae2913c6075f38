"""HSM configuration and the local SoftHSM2 token lifecycle (create, backup)."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from keeper.keys.hsm.pins import enrol_pins
from keeper.keys.secrets import PinSource, write_secret_file

log = logging.getLogger(__name__)

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
DEFAULT_TOKEN_LABEL = "strongroom"  # noqa: S105 - a label, not a secret
#: secp256k1 key that signs the audit chain's anchors (``keeper.audit.jobs``).
AUDIT_ANCHOR_KEY = "audit-anchor"
#: secp256k1 keys generated in the local token by the set-up (``eth-issuance``: the issuance
#: address the issuer mints to, which only deposits into the vault; see ``keeper.flows.wiring``).
DEFAULT_EC_KEYS: tuple[str, ...] = ("eth-hot", "eth-issuance", "safe-signer", "btc-cosigner",
                                    AUDIT_ANCHOR_KEY, "eth-staking")
#: AES-256 key that wraps cosigner seeds (never leaves the token).
SEED_WRAP_KEY = "seed-wrap"


@dataclass(frozen=True)
class HsmConfig:
    """How to reach one token: PKCS#11 module, token label, PIN source.

    ``conf`` is the SoftHSM2 config file (``SOFTHSM2_CONF``); leave it ``None`` for a
    Luna / CloudHSM module, which is configured by its own client files. ``pins`` is the
    record of expected public keys per key label (``keeper.keys.hsm.pins``); a backup token's
    config points at its primary's record, so both are checked against the same keys.
    """

    module: Path
    token_label: str
    pin: PinSource
    conf: Path | None = None
    so_pin: PinSource | None = None
    pins: Path | None = None


def _softhsm_env(conf: Path) -> dict[str, str]:
    return {**os.environ, "SOFTHSM2_CONF": str(conf)}


def _write_conf(hsm_dir: Path) -> Path:
    conf = hsm_dir / "softhsm2.conf"
    tokens = hsm_dir / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    os.chmod(tokens, 0o700)
    conf.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    return conf


def _token_present(conf: Path, label: str) -> bool:
    out = subprocess.run(
        ["softhsm2-util", "--show-slots"],
        env=_softhsm_env(conf),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    labels = [
        line.split(":", 1)[1].strip()
        for line in out.splitlines()
        if line.strip().startswith("Label:")
    ]
    return label in labels


def _init_token(config: HsmConfig) -> None:
    """Initialise the token without ever putting its real PINs on a command line.

    ``softhsm2-util`` takes PINs on argv only (readable by every local user through
    ``/proc/<pid>/cmdline``), so it gets one-time random PINs; the real SO PIN and user PIN
    are then set over PKCS#11 (``C_SetPIN``, ``C_InitPIN``). Errors carry the tool's exit
    status and stderr, never its argv.
    """
    from keeper.keys.hsm.session import set_initial_pins  # local import: avoids a cycle

    assert config.conf is not None and config.so_pin is not None  # noqa: S101 - SoftHSM2 only
    one_time_so, one_time_user = secrets.token_hex(16), secrets.token_hex(16)
    done = subprocess.run(
        [
            "softhsm2-util", "--init-token", "--free", "--label", config.token_label,
            "--so-pin", one_time_so, "--pin", one_time_user,
        ],
        env=_softhsm_env(config.conf),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"softhsm2-util --init-token failed (exit {done.returncode}): {done.stderr.strip()}"
        )
    set_initial_pins(config, one_time_so)


def ensure_local_token(
    data_dir: Path,
    label: str = DEFAULT_TOKEN_LABEL,
    ec_keys: tuple[str, ...] = DEFAULT_EC_KEYS,
) -> HsmConfig:
    """Create (idempotently) the project's SoftHSM2 token under ``data_dir/hsm``.

    Layout: ``hsm/softhsm2.conf``, ``hsm/tokens/``, ``hsm/secrets/{so-pin,user-pin}`` (0600,
    random), ``hsm/key-pins.json``. The token gets secp256k1 keys ``ec_keys`` and the AES
    seed-wrap key, generated inside it as sensitive and non-extractable. Each EC key's public
    key is pinned once a probe signature proves the token's private key matches it; a token
    whose key differs from the pinned one raises ``KeyMismatchError``. Returns the config
    signers use.
    """
    from keeper.keys.hsm.signer import ensure_keys, token_public_keys  # avoids a cycle

    hsm_dir = Path(data_dir) / "hsm"
    conf = _write_conf(hsm_dir)
    secrets_dir = hsm_dir / "secrets"
    so_file = write_secret_file(secrets_dir / "so-pin")
    pin_file = write_secret_file(secrets_dir / "user-pin")
    config = HsmConfig(
        module=SOFTHSM_MODULE,
        token_label=label,
        pin=PinSource(env="STRONGROOM_HSM_PIN", file=pin_file),
        conf=conf,
        so_pin=PinSource(file=so_file),
        pins=hsm_dir / "key-pins.json",
    )
    if not _token_present(conf, label):
        log.info("initialising SoftHSM2 token %r under %s", label, hsm_dir)
        _init_token(config)
    ensure_keys(config, ec_keys)
    enrol_pins(hsm_dir / "key-pins.json", token_public_keys(config, ec_keys))
    return config


def backup_token(config: HsmConfig, dest_dir: Path) -> HsmConfig:
    """Copy the token directory (and its PIN files) to ``dest_dir`` with its own config.

    A SoftHSM2 token directory copied elsewhere, with a second config file pointing at it,
    is a working token with the same keys and PINs: that is the backup HSM. The returned
    config keeps the primary's ``pins`` record.
    """
    if config.conf is None:
        raise ValueError("backup_token only handles SoftHSM2 tokens (config.conf is None)")
    src_dir = config.conf.parent
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    if (dest_dir / "tokens").exists():
        shutil.rmtree(dest_dir / "tokens")
    shutil.copytree(src_dir / "tokens", dest_dir / "tokens")
    conf = _write_conf(dest_dir)
    pin_file = dest_dir / "secrets" / "user-pin"
    pin_file.unlink(missing_ok=True)
    write_secret_file(pin_file, config.pin.read().reveal())
    so_pin = None
    if config.so_pin is not None:
        so_file = dest_dir / "secrets" / "so-pin"
        so_file.unlink(missing_ok=True)
        write_secret_file(so_file, config.so_pin.read().reveal())
        so_pin = PinSource(file=so_file)
    return replace(config, conf=conf, pin=PinSource(env=config.pin.env, file=pin_file), so_pin=so_pin)
