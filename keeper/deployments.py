"""The deployments record: which contracts the system runs on one chain, typed and validated.

One JSON file per chain, ``<deployments_dir>/<chain_id>.json`` (the folder from
:class:`keeper.config.Settings`), written by ``scripts.deployments.deploy_system`` and read by the
keeper's jobs, the API and the local-stack scripts, all through this module::

    {
      "chain_id": 1,
      "addresses": {"vault": "0x...", "timelock": "0x...", ...},   # contract address by name
      "tokens": {"ETH": "0x00...00", "USDC": "0xA0b8...", ...},     # token address by symbol
      "start_block": 123,                                          # first block to follow
      "contracts": {"vault": {"contract": "Vault", "address": ..., "args": "0x...",
                              "deployer": ..., "block": 123, "tx": "0x..."}, ...},
      "config": {...}                                              # the deployment's parameters
    }

:func:`read_deployment` is for readers that must keep serving (the API answers 503 without a
usable record): it returns ``None`` and logs why. :func:`load_deployment` raises
:class:`InvalidDeployment`. :func:`write_deployment` replaces the file atomically.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

log = logging.getLogger(__name__)


class InvalidDeployment(ValueError):  # noqa: N818 - reads as what it is
    """A deployments file that cannot be trusted: unreadable, malformed or for another chain."""


def _address(value: Any, where: str) -> str:
    """``value`` as a checksummed address; a mis-checksummed mixed-case one is refused."""
    if not isinstance(value, str) or not is_hex_address(value):
        raise InvalidDeployment(f"{where}: not an address: {value!r}")
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(value):
        raise InvalidDeployment(f"{where}: EIP-55 checksum mismatch (a typo?): {value}")
    return to_checksum_address(value)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidDeployment(f"{where}: not a non-negative integer: {value!r}")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidDeployment(f"{where}: not an object")
    return value


@dataclass(frozen=True, slots=True)
class ContractEntry:
    """One deployed contract: what was deployed, where, by whom, with which constructor call."""

    contract: str  # contract type, e.g. "Vault"
    address: str
    args: str  # ABI-encoded constructor arguments, 0x-hex
    deployer: str
    block: int
    tx: str | None = None

    @classmethod
    def from_json(cls, name: str, data: Any) -> ContractEntry:
        """Validate one ``contracts`` entry."""
        d = _mapping(data, f"contracts.{name}")
        try:
            contract, args, tx = str(d["contract"]), str(d["args"]), d.get("tx")
        except KeyError as exc:
            raise InvalidDeployment(f"contracts.{name}: missing {exc.args[0]}") from None
        return cls(contract, _address(d.get("address"), f"contracts.{name}.address"), args,
                   _address(d.get("deployer"), f"contracts.{name}.deployer"),
                   _int(d.get("block"), f"contracts.{name}.block"), None if tx is None else str(tx))

    def to_json(self) -> dict[str, Any]:
        """The entry as written to the file."""
        return {"contract": self.contract, "address": self.address, "args": self.args,
                "deployer": self.deployer, "block": self.block, "tx": self.tx}


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class Deployment:
    """The contracts of the system on one chain (addresses checksummed, mappings read-only)."""

    chain_id: int
    addresses: Mapping[str, str] = field(default_factory=dict)  # contract address by name
    tokens: Mapping[str, str] = field(default_factory=dict)  # token address by asset symbol
    start_block: int = 0
    contracts: Mapping[str, ContractEntry] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("addresses", "tokens", "contracts", "config"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def vault(self) -> str | None:
        """The Vault's address, or None when the record names none (yet)."""
        return self.addresses.get("vault")

    def names_by_address(self) -> dict[str, str]:
        """Our contracts (vault, multisigs, ...) by address: name (labelled ``own:<name>`` in
        fund-flow traces)."""
        return {address: name for name, address in self.addresses.items()}

    def address(self, name: str) -> str:
        """Address of the contract recorded as ``name``; KeyError naming the known ones."""
        try:
            return self.addresses[name]
        except KeyError:
            raise KeyError(f"no contract {name!r} on chain {self.chain_id}; "
                           f"recorded: {sorted(self.addresses)}") from None

    @classmethod
    def from_json(cls, data: Any) -> Deployment:
        """Validate a decoded deployments file; raises :class:`InvalidDeployment`."""
        d = _mapping(data, "record")
        chain_id = d.get("chain_id")
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
            raise InvalidDeployment(f"chain_id: not a chain id: {chain_id!r}")
        addresses = {str(k): _address(v, f"addresses.{k}")
                     for k, v in _mapping(d.get("addresses"), "addresses").items()}
        tokens = {str(k).upper(): _address(v, f"tokens.{k}")
                  for k, v in _mapping(d.get("tokens"), "tokens").items()}
        contracts = {str(k): ContractEntry.from_json(str(k), v)
                     for k, v in _mapping(d.get("contracts"), "contracts").items()}
        return cls(chain_id, addresses, tokens, _int(d.get("start_block", 0), "start_block"),
                   contracts, dict(_mapping(d.get("config"), "config")))

    def to_json(self) -> dict[str, Any]:
        """The record as written to the file (plain dicts, sorted by :func:`write_deployment`)."""
        return {"chain_id": self.chain_id, "addresses": dict(self.addresses),
                "tokens": dict(self.tokens), "start_block": self.start_block,
                "contracts": {k: v.to_json() for k, v in self.contracts.items()},
                "config": dict(self.config)}


def deployment_path(deployments_dir: str | os.PathLike[str], chain_id: int) -> Path:
    """Where the record of ``chain_id`` lives: ``<deployments_dir>/<chain_id>.json``."""
    return Path(deployments_dir) / f"{int(chain_id)}.json"


def load_deployment(path: str | os.PathLike[str], chain_id: int | None = None) -> Deployment:
    """Read and validate a deployments file (and that it is for ``chain_id``, when given).

    Raises FileNotFoundError when there is no file, :class:`InvalidDeployment` otherwise.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise InvalidDeployment(f"{path}: unreadable: {exc}") from None
    try:
        record = Deployment.from_json(data)
    except InvalidDeployment as exc:
        raise InvalidDeployment(f"{path}: {exc}") from None
    if chain_id is not None and record.chain_id != chain_id:
        raise InvalidDeployment(f"{path}: records chain {record.chain_id}, not {chain_id}")
    return record


def read_deployment(deployments_dir: str | os.PathLike[str], chain_id: int) -> Deployment | None:
    """The record of ``chain_id``, or None when there is none or it is unusable (logged)."""
    try:
        return load_deployment(deployment_path(deployments_dir, chain_id), chain_id)
    except FileNotFoundError:
        return None
    except InvalidDeployment as exc:
        log.error("deployments file refused: %s", exc)
        return None


def write_deployment(path: str | os.PathLike[str], record: Deployment) -> None:
    """Write ``record`` to ``path`` atomically (a reader sees the old or the new file, whole)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
