"""Runtime settings of keeper, API and local-stack scripts: the one reader of the environment.

Every environment variable the system takes is a field of :class:`Settings`, named in
:data:`ENVIRONMENT`. Defaults give the local stack: SQLite under ``.data/``, the forked local
mainnet (chain id 1), the upstream local mainnet on 127.0.0.1:18545, the API on port 8000.

Secrets (HSM PINs, API keys) are never settings values: they are read from files or the
environment by the component that needs them (:mod:`keeper.keys.secrets`). The database URL may
carry a password: it is left out of ``repr``; print :meth:`Settings.redacted_database_url`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"

# field -> the environment variable that sets it (the whole list; nothing else reads os.environ)
ENVIRONMENT: dict[str, str] = {
    "data_dir": "STRONGROOM_DATA",
    "database_url": "STRONGROOM_DB_URL",
    "rpc_url": "STRONGROOM_RPC_URL",
    "chain_id": "STRONGROOM_CHAIN_ID",
    "confirmations": "STRONGROOM_CONFIRMATIONS",
    "deployments_dir": "STRONGROOM_DEPLOYMENTS_DIR",
    "api_port": "STRONGROOM_API_PORT",
    "upstream_port": "STRONGROOM_UPSTREAM_PORT",
    "ledger_sqlite_cache_kib": "STRONGROOM_LEDGER_SQLITE_CACHE_KIB",
    "ledger_writer_busy_s": "STRONGROOM_LEDGER_WRITER_BUSY_S",
    "ledger_result_timeout_s": "STRONGROOM_LEDGER_RESULT_TIMEOUT_S",
    "prices_file": "STRONGROOM_PRICES_FILE",
    "audit_anchors": "STRONGROOM_AUDIT_ANCHORS",
    "jobs_lease_seconds": "STRONGROOM_JOBS_LEASE_SECONDS",
    "alert_webhook_url": "STRONGROOM_ALERT_WEBHOOK_URL",
    "alert_smtp_host": "STRONGROOM_ALERT_SMTP_HOST",
    "alert_smtp_port": "STRONGROOM_ALERT_SMTP_PORT",
    "alert_smtp_from": "STRONGROOM_ALERT_SMTP_FROM",
    "alert_smtp_to": "STRONGROOM_ALERT_SMTP_TO",
    "alert_smtp_starttls": "STRONGROOM_ALERT_SMTP_STARTTLS",
    "alert_smtp_user": "STRONGROOM_ALERT_SMTP_USER",
    "alert_max_attempts": "STRONGROOM_ALERT_MAX_ATTEMPTS",
    "alert_backoff_seconds": "STRONGROOM_ALERT_BACKOFF_SECONDS",
    "alert_max_per_kind_per_hour": "STRONGROOM_ALERT_MAX_PER_KIND_PER_HOUR",
    "compliance_rules_file": "STRONGROOM_COMPLIANCE_RULES_FILE",
    "secrets_dir": "STRONGROOM_SECRETS_DIR",
    "atlas_url": "STRONGROOM_ATLAS_URL",
    "atlas_port": "STRONGROOM_ATLAS_PORT",
    "atlas_timeout_s": "STRONGROOM_ATLAS_TIMEOUT_S",
    "issuer_url": "STRONGROOM_ISSUER_URL",
    "issuer_port": "STRONGROOM_ISSUER_PORT",
    "issuer_timeout_s": "STRONGROOM_ISSUER_TIMEOUT_S",
    "fee_bps": "STRONGROOM_FEE_BPS",
    "burn_mode": "STRONGROOM_BURN_MODE",
    "buy_single_limit_cents": "STRONGROOM_BUY_SINGLE_LIMIT_CENTS",
    "buy_daily_limit_cents": "STRONGROOM_BUY_DAILY_LIMIT_CENTS",
    "sell_daily_limit_cents": "STRONGROOM_SELL_DAILY_LIMIT_CENTS",
    "mint_escalate_after_s": "STRONGROOM_MINT_ESCALATE_AFTER_S",
    "receivable_escalate_after_s": "STRONGROOM_RECEIVABLE_ESCALATE_AFTER_S",
    "withdrawal_max_fee_gwei": "STRONGROOM_WITHDRAWAL_MAX_FEE_GWEI",
    "withdrawal_bump_after_s": "STRONGROOM_WITHDRAWAL_BUMP_AFTER_S",
    "auth_token_ttl_s": "STRONGROOM_AUTH_TOKEN_TTL_S",
    "rate_limit_per_minute": "STRONGROOM_RATE_LIMIT_PER_MINUTE",
    "rate_limit_flush_s": "STRONGROOM_RATE_LIMIT_FLUSH_S",
    "webhook_max_attempts": "STRONGROOM_WEBHOOK_MAX_ATTEMPTS",
    "webhook_backoff_seconds": "STRONGROOM_WEBHOOK_BACKOFF_SECONDS",
    "webhook_allow_loopback": "STRONGROOM_WEBHOOK_ALLOW_LOOPBACK",
    "bank_name": "STRONGROOM_BANK_NAME",
    "safetx_max_age_s": "STRONGROOM_SAFETX_MAX_AGE_S",
    "safetx_executor_max_gas": "STRONGROOM_SAFETX_EXECUTOR_MAX_GAS",
    "treasury_policy_file": "STRONGROOM_TREASURY_POLICY_FILE",
    "treasury_dry_run": "STRONGROOM_TREASURY_DRY_RUN",
    "flows_outbox_retention_days": "STRONGROOM_FLOWS_OUTBOX_RETENTION_DAYS",
    "trading_venues_file": "STRONGROOM_TRADING_VENUES_FILE",
    "trading_jurisdiction_rules_file": "STRONGROOM_TRADING_JURISDICTION_RULES_FILE",
    "taxlots_default_method": "STRONGROOM_TAXLOTS_DEFAULT_METHOD",
    "taxlots_fees_in_basis": "STRONGROOM_TAXLOTS_FEES_IN_BASIS",
    "taxlots_long_term_days": "STRONGROOM_TAXLOTS_LONG_TERM_DAYS",
    "forensics_confirmations": "STRONGROOM_FORENSICS_CONFIRMATIONS",
    "forensics_retention_days": "STRONGROOM_FORENSICS_RETENTION_DAYS",
    "partner_url": "STRONGROOM_PARTNER_URL",
    "partner_timeout_s": "STRONGROOM_PARTNER_TIMEOUT_S",
    "partner_whitelist": "STRONGROOM_PARTNER_WHITELIST",
    "rpc_fallback_urls": "STRONGROOM_RPC_FALLBACK_URLS",
    "backup_dir": "STRONGROOM_BACKUP_DIR",
    "console_session_minutes": "STRONGROOM_CONSOLE_SESSION_MINUTES",
}
_FIELD_OF = {var: field for field, var in ENVIRONMENT.items()}


def _env(field: str) -> AliasChoices:
    """Read ``field`` from its own name when passed in code, else from its environment variable."""
    return AliasChoices(field, ENVIRONMENT[field])


class Settings(BaseSettings):
    """Where the keeper, API and scripts find their database, chains, ports and data folders.

    A value passed explicitly wins; an omitted one comes from its environment variable
    (:data:`ENVIRONMENT`), else from the local-stack default. ``database_url``,
    ``deployments_dir``, ``prices_file`` and ``audit_anchors`` default to places inside
    ``data_dir``. Immutable once built.
    """

    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, extra="ignore",
                                      case_sensitive=True)

    data_dir: Path = Field(ROOT / ".data", validation_alias=_env("data_dir"),
                           description="project data: chain state, databases, HSM token")
    database_url: str = Field("", repr=False, validation_alias=_env("database_url"),
                              description="SQLAlchemy URL; default SQLite in data_dir")
    rpc_url: str = Field("http://127.0.0.1:18546", validation_alias=_env("rpc_url"),
                         description="JSON-RPC URL of the Ethereum node the keeper follows")
    chain_id: int = Field(1, gt=0, validation_alias=_env("chain_id"),
                          description="chain the system is deployed on (selects the deployments file)")
    confirmations: int = Field(12, ge=0, validation_alias=_env("confirmations"),
                               description="blocks on top of an event before it is credited")
    deployments_dir: Path = Field(Path(), validation_alias=_env("deployments_dir"),
                                  description="folder of <chain_id>.json deployment records")
    api_port: int = Field(8000, gt=0, lt=65536, validation_alias=_env("api_port"),
                          description="loopback port `make run` serves the API on")
    upstream_port: int = Field(18545, gt=0, lt=65536, validation_alias=_env("upstream_port"),
                               description="loopback port the local mainnet is served on")
    ledger_sqlite_cache_kib: int = Field(65536, gt=0, validation_alias=_env("ledger_sqlite_cache_kib"),
                                         description="SQLite page cache per connection, KiB")
    ledger_writer_busy_s: float = Field(
        5.0, gt=0, le=600, allow_inf_nan=False, validation_alias=_env("ledger_writer_busy_s"),
        description="seconds a ledger write waits for a lock held elsewhere, then fails its "
                    "batch with LedgerUnavailable")
    ledger_result_timeout_s: float = Field(
        30.0, gt=0, le=3600, allow_inf_nan=False, validation_alias=_env("ledger_result_timeout_s"),
        description="seconds a caller waits for its group-committed posting (LedgerTimeout)")
    prices_file: Path = Field(Path(), validation_alias=_env("prices_file"),
                              description="static USD prices (cents) for reconciliation; "
                                          "default prices.json in data_dir")
    audit_anchors: Path = Field(Path(), validation_alias=_env("audit_anchors"),
                                description="append-only file of HSM-signed audit chain heads; "
                                            "default audit/anchors.jsonl in data_dir")
    jobs_lease_seconds: float = Field(
        30.0, gt=0, le=3600, allow_inf_nan=False, validation_alias=_env("jobs_lease_seconds"),
        description="seconds a keeper's scheduler lease lasts unrenewed before another takes over")
    alert_webhook_url: str = Field("", repr=False, validation_alias=_env("alert_webhook_url"),
                                   description="alert webhook URL (may embed a token); empty: none")
    alert_smtp_host: str = Field("", validation_alias=_env("alert_smtp_host"),
                                 description="SMTP server for alert mail; empty: no mail")
    alert_smtp_port: int = Field(587, gt=0, lt=65536, validation_alias=_env("alert_smtp_port"),
                                 description="SMTP server port")
    alert_smtp_from: str = Field("", validation_alias=_env("alert_smtp_from"),
                                 description="sender address of alert mail")
    alert_smtp_to: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_env("alert_smtp_to"),
        description="recipients of alert mail, comma-separated")
    alert_smtp_starttls: bool = Field(True, validation_alias=_env("alert_smtp_starttls"),
                                      description="upgrade the SMTP connection with STARTTLS")
    alert_smtp_user: str = Field("", validation_alias=_env("alert_smtp_user"),
                                 description="SMTP login (the password is a secret, not a setting)")
    alert_max_attempts: int = Field(8, gt=0, le=1000, validation_alias=_env("alert_max_attempts"),
                                    description="deliveries tried per alert and channel")
    alert_backoff_seconds: float = Field(
        30.0, gt=0, le=86400, allow_inf_nan=False, validation_alias=_env("alert_backoff_seconds"),
        description="first retry delay of a failed alert delivery (doubles each try)")
    alert_max_per_kind_per_hour: int = Field(
        20, gt=0, le=100000, validation_alias=_env("alert_max_per_kind_per_hour"),
        description="alerts of one kind sent one by one per hour; the rest go in an hourly digest")
    compliance_rules_file: Path = Field(
        ROOT / "keeper" / "compliance" / "rules" / "rules.json",
        validation_alias=_env("compliance_rules_file"),
        description="versioned AML rules file (R001-R006) the compliance gate loads")
    secrets_dir: Path = Field(Path(), validation_alias=_env("secrets_dir"),
                              description="folder of 0600 secret files (vendor API keys, webhook "
                                          "and token signing secrets); default secrets in data_dir")
    atlas_url: str = Field("", validation_alias=_env("atlas_url"),
                           description="core banking (ATLAS) base URL; empty: not configured")
    atlas_port: int = Field(8101, gt=0, lt=65536, validation_alias=_env("atlas_port"),
                            description="loopback port `make run` serves the local ATLAS on")
    atlas_timeout_s: float = Field(10.0, gt=0, le=600, allow_inf_nan=False,
                                   validation_alias=_env("atlas_timeout_s"),
                                   description="seconds one core-banking call may take")
    issuer_url: str = Field("", validation_alias=_env("issuer_url"),
                            description="stablecoin issuer base URL; empty: not configured")
    issuer_port: int = Field(8102, gt=0, lt=65536, validation_alias=_env("issuer_port"),
                             description="loopback port `make run` serves the local issuer on")
    issuer_timeout_s: float = Field(10.0, gt=0, le=600, allow_inf_nan=False,
                                    validation_alias=_env("issuer_timeout_s"),
                                    description="seconds one issuer call may take")
    fee_bps: int = Field(25, ge=0, le=1000, validation_alias=_env("fee_bps"),
                         description="buy/sell fee in basis points (25 = 0.25%)")
    burn_mode: Literal["eod", "immediate"] = Field(
        "eod", validation_alias=_env("burn_mode"),
        description="sold stablecoins are burned in an end-of-day batch or at once")
    buy_single_limit_cents: int = Field(25_000_000, gt=0, validation_alias=_env("buy_single_limit_cents"),
                                        description="default largest single buy, USD cents")
    buy_daily_limit_cents: int = Field(50_000_000, gt=0, validation_alias=_env("buy_daily_limit_cents"),
                                       description="default buys per client per 24 h, USD cents")
    sell_daily_limit_cents: int = Field(25_000_000, gt=0, validation_alias=_env("sell_daily_limit_cents"),
                                        description="default sells per client per 24 h, USD cents")
    mint_escalate_after_s: float = Field(
        86400.0, gt=0, allow_inf_nan=False, validation_alias=_env("mint_escalate_after_s"),
        description="seconds a buy may wait for the issuer's mint before escalation")
    receivable_escalate_after_s: float = Field(
        432000.0, gt=0, allow_inf_nan=False, validation_alias=_env("receivable_escalate_after_s"),
        description="seconds the issuer may owe fiat for a sell (bank-fronted) before escalation")
    withdrawal_max_fee_gwei: int = Field(
        300, gt=0, validation_alias=_env("withdrawal_max_fee_gwei"),
        description="ceiling of maxFeePerGas when replacing a stuck withdrawal transaction, gwei")
    withdrawal_bump_after_s: float = Field(
        60.0, gt=0, allow_inf_nan=False, validation_alias=_env("withdrawal_bump_after_s"),
        description="seconds a withdrawal transaction may stay unmined before a fee bump")
    auth_token_ttl_s: int = Field(900, gt=0, le=86400, validation_alias=_env("auth_token_ttl_s"),
                                  description="lifetime of an OAuth2 access token (JWT), seconds")
    rate_limit_per_minute: int = Field(100, gt=0, validation_alias=_env("rate_limit_per_minute"),
                                       description="API requests per client per minute")
    rate_limit_flush_s: float = Field(
        1.0, ge=0.05, le=10, validation_alias=_env("rate_limit_flush_s"),
        description="seconds between writes of an API process's in-memory rate-limit counts")
    webhook_max_attempts: int = Field(8, gt=0, le=1000, validation_alias=_env("webhook_max_attempts"),
                                      description="deliveries tried per client webhook event")
    webhook_backoff_seconds: float = Field(
        30.0, gt=0, le=86400, allow_inf_nan=False, validation_alias=_env("webhook_backoff_seconds"),
        description="first retry delay of a failed client webhook delivery (doubles each try)")
    webhook_allow_loopback: bool = Field(
        False, validation_alias=_env("webhook_allow_loopback"),
        description="allow client webhooks to loopback targets (the local stack only)")
    bank_name: str = Field("Strongroom Custody", min_length=1, max_length=120,
                           validation_alias=_env("bank_name"),
                           description="the custodian's name on statements")
    safetx_max_age_s: float = Field(
        604800.0, gt=0, allow_inf_nan=False, validation_alias=_env("safetx_max_age_s"),
        description="seconds a proposed SafeTx may wait for its threshold before it expires")
    safetx_executor_max_gas: int = Field(
        3_000_000, gt=21000, validation_alias=_env("safetx_executor_max_gas"),
        description="gas cap of a SafeTx the keeper executes (it pays the gas)")
    treasury_policy_file: Path = Field(
        ROOT / "keeper" / "treasury" / "tiers" / "policy.json",
        validation_alias=_env("treasury_policy_file"),
        description="tier policy (targets, bands, minimum balances, hot ceiling) as data")
    treasury_dry_run: bool = Field(
        False, validation_alias=_env("treasury_dry_run"),
        description="treasury jobs plan, record and audit their moves but send nothing")
    flows_outbox_retention_days: int = Field(
        30, ge=0, le=3650, validation_alias=_env("flows_outbox_retention_days"),
        description="days a relayed flows outbox row is kept before the daily prune")
    trading_venues_file: Path | None = Field(
        None, validation_alias=_env("trading_venues_file"),
        description="venue registry (id, URL, API key file under secrets_dir, latency); "
        "none: no trading venues")
    trading_jurisdiction_rules_file: Path = Field(
        ROOT / "keeper" / "trading" / "jurisdiction" / "rules.json",
        validation_alias=_env("trading_jurisdiction_rules_file"),
        description="jurisdiction rules every order and child order is checked against")
    taxlots_default_method: Literal["fifo", "lifo", "hifo"] = Field(
        "fifo", validation_alias=_env("taxlots_default_method"),
        description="tax-lot method of a client without one of their own")
    taxlots_fees_in_basis: bool = Field(
        True, validation_alias=_env("taxlots_fees_in_basis"),
        description="fees add to an acquisition's basis and reduce a disposal's proceeds")
    taxlots_long_term_days: int = Field(
        365, ge=1, le=36500, validation_alias=_env("taxlots_long_term_days"),
        description="a lot held longer than this many days is long-term")
    forensics_confirmations: int = Field(
        0, ge=0, le=64, validation_alias=_env("forensics_confirmations"),
        description="blocks the forensics mirror stays behind the head (0: follows it, "
        "repairing reorgs)")
    forensics_retention_days: int = Field(
        400, ge=1, le=36500, validation_alias=_env("forensics_retention_days"),
        description="days a mirrored transfer is kept for tracing")
    partner_url: str = Field(
        "", validation_alias=_env("partner_url"),
        description="base URL of the custody partner (Warp Data); empty: no partner")
    partner_timeout_s: float = Field(
        10.0, gt=0, allow_inf_nan=False, validation_alias=_env("partner_timeout_s"),
        description="seconds a partner call may take (a whole reply within three of them)")
    partner_whitelist: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_env("partner_whitelist"),
        description="comma-separated addresses the keeper lets the partner pay withdrawals to")
    rpc_fallback_urls: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_env("rpc_fallback_urls"),
        description="comma-separated JSON-RPC URLs tried in order when rpc_url fails")
    backup_dir: Path = Field(Path(), validation_alias=_env("backup_dir"),
                             description="database backups and archived WAL; default backups in "
                                         "data_dir")
    console_session_minutes: int = Field(
        15, ge=1, le=15, validation_alias=_env("console_session_minutes"),
        description="idle minutes before a web console session ends (the spec's 15 at most)")

    @field_validator("alert_smtp_to", "partner_whitelist", "rpc_fallback_urls", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """``a@x,b@y`` -> ``("a@x", "b@y")``; an empty entry is refused (a typo, not a wish)."""
        if isinstance(value, str):
            if not value.strip():
                return ()
            parts = tuple(p.strip() for p in value.split(","))
            if not all(parts):
                raise ValueError("empty recipient in comma-separated list")
            return parts
        return value

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:  # name the variable, not only the field
            problems = "; ".join(
                f"{ENVIRONMENT.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'settings'}: "
                f"{e['msg']}" for e in exc.errors())
            raise ValueError(f"invalid settings: {problems}") from None

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        """One key per field (an explicit value wins over its variable); folders and database
        inside ``data_dir`` unless given."""
        if not isinstance(data, dict):
            return data
        out = {_FIELD_OF[k]: v for k, v in data.items() if k in _FIELD_OF}
        out.update({k: v for k, v in data.items() if k not in _FIELD_OF})
        data_dir = Path(out.get("data_dir") or ROOT / ".data")
        out["data_dir"] = data_dir
        if not out.get("database_url"):
            out["database_url"] = f"sqlite:///{data_dir / 'strongroom.db'}"
        if not out.get("deployments_dir"):
            out["deployments_dir"] = data_dir / "deployments"
        if not out.get("prices_file"):
            out["prices_file"] = data_dir / "prices.json"
        if not out.get("secrets_dir"):
            out["secrets_dir"] = data_dir / "secrets"
        if not out.get("backup_dir"):
            out["backup_dir"] = data_dir / "backups"
        if not out.get("audit_anchors"):
            out["audit_anchors"] = data_dir / "audit" / "anchors.jsonl"
        return out

    @model_validator(mode="after")
    def _result_outlasts_busy(self) -> Settings:
        """A caller must wait longer than a write may wait for a lock, so a locked database
        surfaces as ``LedgerUnavailable`` (nothing written), not as an ambiguous timeout."""
        if self.ledger_result_timeout_s <= self.ledger_writer_busy_s:
            raise ValueError(f"{ENVIRONMENT['ledger_result_timeout_s']} must exceed "
                             f"{ENVIRONMENT['ledger_writer_busy_s']}")
        return self

    @property
    def upstream_url(self) -> str:
        """URL of the local mainnet (the upstream the fork is taken from) on loopback."""
        return f"http://{LOOPBACK}:{self.upstream_port}"

    def redacted_database_url(self) -> str:
        """The database URL with any password replaced, safe to print or log."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)


def environment(**values: Any) -> dict[str, str]:
    """The environment variables that give a child process these settings (field -> value):
    how a script configures a keeper or API it starts, without spelling variable names."""
    unknown = sorted(set(values) - set(ENVIRONMENT))
    if unknown:
        raise KeyError(f"not settings: {unknown}")
    return {ENVIRONMENT[field]: str(value) for field, value in values.items()}


def load_settings() -> Settings:
    """Settings from the environment (with local-stack defaults)."""
    return Settings()


def default(field: str) -> Any:
    """The embedded default of setting ``field`` (never the environment's value): the fallback
    of a component built without an explicit value."""
    return Settings.model_fields[field].default
