"""Deploy, wire, record and verify the Strongroom contract set.

Importable from tests, `scripts/deploy.py`, `scripts/verify.py` and the lead's `make run`:

    from scripts.deployments import SystemConfig, deploy_system, local_config
    addresses = deploy_system(accounts[0], local_config(accounts))

Deployment is idempotent: every contract recorded in the deployments file whose on-chain
runtime code equals what its recorded constructor call produces (and whose constructor
arguments equal the ones the current config asks for) is reused; wiring steps check the
on-chain state before sending anything. A second run with the same file sends no transaction.

The deployments file (JSON) is `<deployments_dir>/<chain_id>.json`, the folder being
`.data/deployments` unless STRONGROOM_DEPLOYMENTS_DIR names another. The keeper and the API read
`addresses` and `start_block` from it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from hexbytes import HexBytes

from keeper.assets import ETH_ADDRESS, USDC, USDT
from keeper.roles import VaultRole

ROOT = Path(__file__).resolve().parent.parent
ETH = ETH_ADDRESS
HOUR = 3600
DAY = 24 * HOUR
USD6 = 10**6  # the vault's USD unit is the micro-USD
TIER_WARM, TIER_COLD = 1, 2


@dataclass
class TokenLimits:
    """Per-token vault controls, in the token's base units."""

    tx_cap: int
    queue_threshold: int
    instant_budget: int  # paid without queueing per rolling 24 h; beyond it withdrawals queue


@dataclass
class TokenPricing:
    """How the vault values a token against its USD limits: micro-USD per whole token."""

    decimals: int
    price_min: int
    price_max: int
    price: int


def _usd_limits(decimals: int) -> TokenLimits:
    unit = 10**decimals
    # 1M per transaction, above 50K queued for 24 h (spec 6.3 hot tier), 500K instant per 24 h.
    return TokenLimits(1_000_000 * unit, 50_000 * unit, 500_000 * unit)


def _face_value(decimals: int) -> TokenPricing:
    return TokenPricing(decimals, USD6, USD6, USD6)


@dataclass
class SystemConfig:
    """Everything `deploy_system` needs; addresses are checksummed strings."""

    cold_owners: list[str]
    warm_owners: list[str]
    pauser_owners: list[str]
    compliance_owners: list[str]
    operator: str  # the keeper's hot key: vault CUSTOMER and SWEEPER (cold sweeps only)
    oracle: str
    pricer: str
    cold_threshold: int = 3
    warm_threshold: int = 2
    pauser_threshold: int = 2
    compliance_threshold: int = 2
    # The local staking pool's outside roles (the protocol's reward distributor and slashing
    # oracle); the pool is deployed only when both are set (make run), not in every test world.
    staking_rewarder: str = ""
    staking_slasher: str = ""
    recovery_owners: list[str] = field(default_factory=list)
    recovery_threshold: int = 0
    recovery_delay: int = 0
    usdc: str = str(USDC.address)
    usdt: str = str(USDT.address)
    # ETH controls in wei: 300 ETH per transaction, above 15 ETH queued, 150 ETH instant/24 h.
    eth_limits: TokenLimits = field(
        default_factory=lambda: TokenLimits(300 * 10**18, 15 * 10**18, 150 * 10**18)
    )
    usdc_limits: TokenLimits = field(default_factory=lambda: _usd_limits(6))
    usdt_limits: TokenLimits = field(default_factory=lambda: _usd_limits(6))
    # ETH priced by PRICER within 1,000..10,000 USD: at worst 10,000 ETH leave in 24 h.
    eth_pricing: TokenPricing = field(
        default_factory=lambda: TokenPricing(18, 1_000 * USD6, 10_000 * USD6, 3_300 * USD6)
    )
    # The vault-wide limit of spec 7.5 ("$10M per day"), rolling 24 h, in micro-USD; sweeps
    # to cold have their own budget.
    daily_limit_usd: int = 10_000_000 * USD6
    cold_sweep_limit_usd: int = 100_000_000 * USD6
    timelock_delay: int = 48 * HOUR
    timelock_floor: int = 48 * HOUR
    # operations scheduled with at least this delay can be cancelled by a proposer only
    timelock_protected_delay: int = 96 * HOUR
    whitelist_delay: int = DAY

    def token_limits(self) -> dict[str, tuple[TokenLimits, TokenPricing]]:
        """Vault token controls and pricing, keyed by token address (ETH = zero address)."""
        return {ETH: (self.eth_limits, self.eth_pricing),
                self.usdc: (self.usdc_limits, _face_value(6)),
                self.usdt: (self.usdt_limits, _face_value(6))}


TEST_MNEMONIC = "test test test test test test test test test test test junk"


def derived_signer(index: int, mnemonic: str = TEST_MNEMONIC) -> Any:
    """eth_account LocalAccount number `index` of the (test) mnemonic (m/44'/60'/0'/0/index).

    ape only exposes the first `number_of_accounts` test accounts; signers beyond those come
    from here (they sign off-chain and need no gas).
    """
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")


def local_config(accounts: Any = None, **overrides: Any) -> SystemConfig:
    """Config for local runs from the test mnemonic (index 0 is the deployer).

    Cold 3-of-5 = indices 1-5, warm 2-of-3 = 6-8, emergency pauser 2-of-3 = 9-11,
    operator (CUSTOMER and SWEEPER) = 13, oracle = 14, compliance 2-of-3 = 15-17, pricer = 18
    (index 12, the former single compliance key, holds nothing). `accounts` is accepted for
    symmetry with ape fixtures but the addresses are always derived from the test mnemonic.
    """
    def addr(i: int) -> str:
        return str(derived_signer(i).address)

    cfg = SystemConfig(
        cold_owners=[addr(i) for i in range(1, 6)],
        warm_owners=[addr(i) for i in range(6, 9)],
        pauser_owners=[addr(i) for i in range(9, 12)],
        compliance_owners=[addr(i) for i in range(15, 18)],
        operator=addr(13),
        oracle=addr(14),
        pricer=addr(18),
    )
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def deployments_path(chain_id: int, path: str | os.PathLike | None = None) -> Path:
    """Where the deployments file lives: an explicit path, else ``<deployments_dir>/<chain_id>.json``
    with the folder from :class:`keeper.config.Settings` (``STRONGROOM_DEPLOYMENTS_DIR``)."""
    if path is not None:
        return Path(path)
    from keeper.config import load_settings

    return load_settings().deployments_dir / f"{chain_id}.json"


def load_deployments(path: Path) -> dict[str, Any]:
    """Read a deployments file, or an empty record when it does not exist."""
    if path.exists():
        return json.loads(path.read_text())
    return {}


def save_deployments(path: Path, state: dict[str, Any]) -> None:
    """Write the deployments file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


# ---------------------------------------------------------------- code checks


def _container(project: Any, contract_name: str) -> Any:
    return getattr(project, contract_name)


def constructor_args_hex(project: Any, contract_name: str, args: list[Any]) -> str:
    """ABI-encoded constructor arguments (no bytecode) as 0x-hex."""
    container = _container(project, contract_name)
    return HexBytes(container.constructor.encode_input(*args)).to_0x_hex()


def expected_runtime(project: Any, provider: Any, entry: dict[str, Any]) -> bytes:
    """Runtime code the recorded constructor call produces (immutables included).

    Runs the artifact's deployment bytecode plus the recorded constructor arguments through
    `eth_call` from the recorded deployer with the recorded deployment block's number and
    timestamp: the EVM returns the exact runtime code the constructor installed, immutables and
    all (also those taken from the block, as the staking pool's epoch origin is its timestamp).
    """
    contract_type = _container(project, entry["contract"]).contract_type
    initcode = HexBytes(
        bytes(HexBytes(contract_type.deployment_bytecode.bytecode)) + bytes(HexBytes(entry["args"]))
    )
    tx = {"from": entry["deployer"], "data": initcode.to_0x_hex()}
    params: list[Any] = [tx, "latest"]
    block = entry.get("block")
    if block:
        # Historical state is not reliably kept by a dev node (anvil answered "missing bytecode
        # for code hash" for an old block), the header is: run at the head with the recorded
        # block's number and timestamp, the only block fields a constructor here reads.
        header = provider.make_request("eth_getBlockByNumber", [hex(block), False])
        if header:
            params += [{}, {"number": hex(block), "time": header["timestamp"]}]
    result = provider.make_request("eth_call", params)
    return bytes(HexBytes(result))


def code_matches(project: Any, provider: Any, entry: dict[str, Any]) -> tuple[bool, str]:
    """Compare on-chain runtime code of a recorded contract with the build artifact."""
    onchain = bytes(HexBytes(provider.get_code(entry["address"])))
    if not onchain:
        return False, "no code at address"
    contract_type = _container(project, entry["contract"]).contract_type
    runtime = bytes(HexBytes(contract_type.runtime_bytecode.bytecode))
    if not onchain.startswith(runtime):
        return False, "runtime code differs from artifact"
    expected = expected_runtime(project, provider, entry)
    if onchain != expected:
        return False, "immutables or trailing data differ from the recorded constructor call"
    return True, "ok"


# ---------------------------------------------------------------- deployment


class _Deployer:
    """Deploys contracts at most once per matching deployments-file entry."""

    def __init__(self, project: Any, chain: Any, deployer: Any, path: Path) -> None:
        self.project, self.chain, self.deployer, self.path = project, chain, deployer, path
        self.state = load_deployments(path)
        self.state.setdefault("chain_id", chain.chain_id)
        self.state.setdefault("contracts", {})
        self.sent = 0

    def ensure(self, name: str, contract_name: str, args: list[Any]) -> Any:
        container = _container(self.project, contract_name)
        args_hex = constructor_args_hex(self.project, contract_name, args)
        entry = self.state["contracts"].get(name)
        if entry and entry["contract"] == contract_name and entry["args"] == args_hex:
            ok, _ = code_matches(self.project, self.chain.provider, entry)
            if ok:
                return container.at(entry["address"])
        contract = container.deploy(*args, sender=self.deployer)
        receipt = contract.creation_metadata.receipt if contract.creation_metadata else None
        self.sent += 1
        self.state["contracts"][name] = {
            "contract": contract_name,
            "address": contract.address,
            "args": args_hex,
            "deployer": self.deployer.address,
            "block": receipt.block_number if receipt else self.chain.blocks.head.number,
            "tx": receipt.txn_hash if receipt else None,
        }
        self.save()
        return contract

    def send(self, contract: Any, method: str, *args: Any) -> None:
        getattr(contract, method)(*args, sender=self.deployer)
        self.sent += 1

    def save(self) -> None:
        contracts = self.state["contracts"]
        self.state["addresses"] = {k: v["address"] for k, v in contracts.items()}
        self.state["start_block"] = min((v["block"] for v in contracts.values()), default=0)
        save_deployments(self.path, self.state)


def _wire_vault(d: _Deployer, vault: Any, timelock: Any, msigs: dict[str, Any],
                cfg: SystemConfig) -> None:
    """Configure limits, prices, tiers and roles, then hand ADMIN to the Timelock (skipped if
    done). `msigs` maps warm, cold, pauser and compliance to their Multisigs."""
    me = d.deployer.address
    if vault.roles(me) == 0 and vault.roles(timelock.address) & VaultRole.ADMIN:
        return  # already handed over: governance owns the parameters from here on
    for token, (lim, price) in cfg.token_limits().items():
        want = (True, lim.tx_cap, lim.queue_threshold, lim.instant_budget)
        if tuple(vault.token_config(token)) != want:
            d.send(vault, "setTokenConfig", token, *want)
        if tuple(vault.pricing(token)) != (price.decimals, price.price_min, price.price_max,
                                           price.price):
            d.send(vault, "setPricing", token, price.decimals, price.price_min, price.price_max,
                   price.price)
    if (vault.daily_limit_usd(), vault.cold_sweep_limit_usd()) != (cfg.daily_limit_usd,
                                                                   cfg.cold_sweep_limit_usd):
        d.send(vault, "setUsdLimits", cfg.daily_limit_usd, cfg.cold_sweep_limit_usd)
    for tier, wallet in ((TIER_WARM, msigs["warm"]), (TIER_COLD, msigs["cold"])):
        if vault.tier_address(tier) != wallet.address:
            d.send(vault, "setTier", tier, wallet.address)
    grants: dict[str, int] = {}
    for account, role in ((msigs["compliance"].address, VaultRole.COMPLIANCE_OFFICER),
                          (msigs["warm"].address, VaultRole.TREASURY),
                          (msigs["pauser"].address, VaultRole.PAUSER),
                          # the keeper's hot key: withdrawals, and the daily sweep to cold
                          # only (SWEEPER: no warm sweep, no parameter; issue 14)
                          (cfg.operator, VaultRole.CUSTOMER | VaultRole.SWEEPER),
                          (cfg.pricer, VaultRole.PRICER),
                          (timelock.address, VaultRole.ADMIN)):
        grants[account] = grants.get(account, 0) | int(role)
    for account, roles in grants.items():
        if vault.roles(account) != roles:
            d.send(vault, "setRoles", account, roles)
    d.send(vault, "renounceRoles")


def _deploy_staking_pool(d: _Deployer, deployer: Any, admin: str, guardian: str,
                         config: SystemConfig) -> None:
    """The local staking pool (a stand-in for a staking protocol): ADMIN the Timelock, pause by
    the emergency pauser Multisig, slashed ETH burnt; recorded as ``staking_pool``."""
    from keeper.staking import PoolConfig, configure_staking_pool, constructor_args

    scfg = PoolConfig(admin=admin, rewarder=config.staking_rewarder, slasher=config.staking_slasher,
                      guardian=guardian, slash_sink="0x000000000000000000000000000000000000dEaD",
                      epoch_length=86400, lockup=7 * 86400, unbonding=3 * 86400,
                      reward_per_epoch=10**16)
    pool = d.ensure("staking_pool", "StakingPool", constructor_args(deployer.address, scfg))
    d.sent += configure_staking_pool(pool, deployer, scfg)


def deploy_system(deployer: Any, config: SystemConfig,
                  path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Deploy and wire Multisigs, Timelock, Whitelist, Vault and Escrow; return the record.

    `deployer` is an ape account; `config` a SystemConfig. Returns the deployments record
    (also written to the deployments file): `addresses` maps cold_multisig, warm_multisig,
    pauser_multisig, compliance_multisig, timelock, whitelist, vault, escrow to addresses;
    `transactions_sent` counts what this call sent (0 when everything was already in place).
    Compliance is the 2-of-3 compliance Multisig everywhere (Whitelist, Vault, Escrow and
    Timelock canceller): no single key holds a compliance power.
    """
    from ape import chain, project

    d = _Deployer(project, chain, deployer, deployments_path(chain.chain_id, path))
    rec = [config.recovery_owners, config.recovery_threshold, config.recovery_delay]
    cold = d.ensure("cold_multisig", "Multisig", [config.cold_owners, config.cold_threshold, *rec])
    warm = d.ensure("warm_multisig", "Multisig", [config.warm_owners, config.warm_threshold, *rec])
    pauser = d.ensure("pauser_multisig", "Multisig",
                      [config.pauser_owners, config.pauser_threshold, *rec])
    compliance = d.ensure("compliance_multisig", "Multisig",
                          [config.compliance_owners, config.compliance_threshold, *rec])
    timelock = d.ensure("timelock", "Timelock", [
        config.timelock_delay, config.timelock_floor, config.timelock_protected_delay,
        [cold.address], [cold.address], [cold.address, compliance.address],  # multisigs only
    ])
    whitelist = d.ensure("whitelist", "Whitelist", [
        timelock.address, compliance.address, config.whitelist_delay,
        [warm.address, cold.address],
    ])
    vault = d.ensure("vault", "Vault", [deployer.address, whitelist.address, ETH])
    msigs = {"warm": warm, "cold": cold, "pauser": pauser, "compliance": compliance}
    _wire_vault(d, vault, timelock, msigs, config)
    d.ensure("escrow", "Escrow", [config.usdc, timelock.address, config.oracle,
                                  compliance.address])
    if config.staking_rewarder and config.staking_slasher:
        _deploy_staking_pool(d, deployer, timelock.address, pauser.address, config)
    d.state["config"] = _jsonable(asdict(config))
    d.state["tokens"] = {"ETH": ETH, "USDC": config.usdc, "USDT": config.usdt}
    d.save()
    result = dict(d.state)
    result["transactions_sent"] = d.sent
    return result


def deploy_open_vault(project: Any, admin: Any, compliance: Any,
                      predecessor: str = ETH) -> tuple[Any, Any]:
    """A Whitelist + Vault pair with effectively unlimited limits for ETH, USDC and USDT (tests).

    `admin` (an ape account) deploys both and holds ADMIN, TREASURY and CUSTOMER on the vault
    and ADMIN on the whitelist; `compliance` (account or address) is the whitelist's and the
    vault's compliance officer. The whitelist starts empty with a 1 s activation delay.
    `predecessor` (an address; none by default) makes the vault that vault's successor. The
    signature stays stable when the limit API changes: callers never touch the constructor or
    the limit setters themselves.
    """
    comp = getattr(compliance, "address", compliance)
    whitelist = project.Whitelist.deploy(admin.address, comp, 1, [], sender=admin)
    vault = project.Vault.deploy(admin.address, whitelist.address, predecessor, sender=admin)
    big = 2**128
    for token, decimals in ((ETH, 18), (USDC.address, 6), (USDT.address, 6)):
        vault.setTokenConfig(token, True, big, big, big, sender=admin)
        vault.setPricing(token, decimals, 1, big, USD6, sender=admin)
    vault.setUsdLimits(2**200, 2**200, sender=admin)
    vault.setRoles(admin.address, VaultRole.ADMIN | VaultRole.TREASURY | VaultRole.CUSTOMER,
                   sender=admin)
    vault.setRoles(comp, VaultRole.COMPLIANCE_OFFICER, sender=admin)
    return vault, whitelist


def verify_deployments(project: Any, provider: Any, state: dict[str, Any]) -> list[str]:
    """Problems found comparing every recorded contract with its artifact (empty = all match)."""
    problems = []
    for name, entry in sorted(state.get("contracts", {}).items()):
        ok, why = code_matches(project, provider, entry)
        if not ok:
            problems.append(f"{name} ({entry['contract']} at {entry['address']}): {why}")
    return problems


# ---------------------------------------------------------------- multisig helper


def exec_multisig(safe: Any, owners: list[Any], target: Any, data: bytes, sender: Any,
                  value: int = 0, safe_tx_gas: int = 0) -> Any:
    """Have `owners` (ape test accounts or eth_account LocalAccounts) sign and execute a call."""
    nonce = safe.call_view_method("nonce")  # `safe.nonce` is ape's account nonce
    zero = ETH
    tx_hash = safe.getTransactionHash(target, value, data, 0, safe_tx_gas, 0, 0, zero, zero, nonce)
    sigs = b""
    for owner in sorted(owners, key=lambda a: int(str(a.address), 16)):
        key = getattr(owner, "private_key", None) or owner.key
        sig = Account.unsafe_sign_hash(bytes(HexBytes(tx_hash)), key)
        sigs += sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([sig.v])
    return safe.execTransaction(target, value, data, 0, safe_tx_gas, 0, 0, zero, zero, sigs,
                                sender=sender)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, int) and abs(obj) > 2**53:
        return str(obj)
    return obj


def deploy_stand_in_tokens(owner: Any, holders: list[Any], amount: int = 10**15) -> tuple[Any, Any]:
    """Fresh USDC/USDT stand-ins (contracts/tokens) owned by `owner`, `amount` to each holder.

    For tests and bare local chains; on the local mainnet the stand-ins already sit at the real
    addresses. `owner` is master minter, pauser, blacklister and owner of the USDC stand-in and
    owner of the USDT stand-in.
    """
    from ape import project

    usdc = project.FiatTokenV2.deploy("USD Coin", "USDC", "USD", 6, owner, owner, owner, owner,
                                      sender=owner)
    usdc.configureMinter(owner, 2**200, sender=owner)
    usdt = project.TetherToken.deploy(amount * (len(holders) + 1), "Tether USD", "USDT", 6,
                                      sender=owner)
    for holder in holders:
        usdc.mint(holder, amount, sender=owner)
        usdt.transfer(holder, amount, sender=owner)
    return usdc, usdt
