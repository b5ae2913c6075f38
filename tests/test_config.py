"""``keeper.config.Settings``: the one reader of every environment variable of the system."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keeper.config import ENVIRONMENT, Settings, load_settings

ALL_VARS = sorted(ENVIRONMENT.values())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No Strongroom variable set: defaults only."""
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_the_local_stack(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'strongroom.db'}"
    assert s.deployments_dir == tmp_path / "deployments"
    assert (s.chain_id, s.confirmations, s.api_port, s.upstream_port) == (1, 12, 8000, 18545)
    assert s.upstream_url == "http://127.0.0.1:18545"
    assert s.ledger_sqlite_cache_kib == 65536
    assert (s.ledger_writer_busy_s, s.ledger_result_timeout_s) == (5.0, 30.0)
    assert s.prices_file == tmp_path / "prices.json"
    assert s.audit_anchors == tmp_path / "audit" / "anchors.jsonl"
    assert s.jobs_lease_seconds == 30.0
    assert (s.alert_webhook_url, s.alert_smtp_host, s.alert_smtp_from) == ("", "", "")
    assert (s.alert_smtp_port, s.alert_smtp_starttls, s.alert_smtp_user) == (587, True, "")
    assert s.alert_smtp_to == ()
    assert (s.alert_max_attempts, s.alert_backoff_seconds) == (8, 30.0)
    assert s.alert_max_per_kind_per_hour == 20
    assert (s.webhook_allow_loopback, s.bank_name) == (False, "Strongroom Custody")
    assert (s.safetx_max_age_s, s.safetx_executor_max_gas) == (604800.0, 3_000_000)
    assert (s.treasury_policy_file.name, s.treasury_dry_run) == ("policy.json", False)
    assert s.flows_outbox_retention_days == 30
    assert s.trading_venues_file is None and s.trading_jurisdiction_rules_file.is_file()
    assert (s.taxlots_default_method, s.taxlots_fees_in_basis, s.taxlots_long_term_days) == (
        "fifo", True, 365)
    assert (s.forensics_confirmations, s.forensics_retention_days) == (0, 400)
    assert (s.partner_url, s.partner_timeout_s, s.partner_whitelist) == ("", 10.0, ())
    assert (s.rpc_fallback_urls, s.backup_dir, s.console_session_minutes) == (
        (), tmp_path / "backups", 15)
    assert s.compliance_rules_file.name == "rules.json" and s.compliance_rules_file.is_file()
    assert s.secrets_dir == tmp_path / "secrets"
    assert (s.atlas_url, s.issuer_url, s.atlas_port, s.issuer_port) == ("", "", 8101, 8102)
    assert (s.fee_bps, s.burn_mode) == (25, "eod")
    assert (s.buy_single_limit_cents, s.buy_daily_limit_cents, s.sell_daily_limit_cents) == (
        25_000_000, 50_000_000, 25_000_000)
    assert (s.mint_escalate_after_s, s.receivable_escalate_after_s) == (86400.0, 432000.0)
    assert (s.auth_token_ttl_s, s.rate_limit_per_minute, s.rate_limit_flush_s) == (900, 100, 1.0)


def test_every_variable_is_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {
        "data_dir": str(tmp_path / "d"), "database_url": "sqlite:///x.db", "rpc_url": "http://h:1",
        "chain_id": "5", "confirmations": "3", "deployments_dir": str(tmp_path / "dep"),
        "api_port": "8123", "upstream_port": "18999", "ledger_sqlite_cache_kib": "1024",
        "ledger_writer_busy_s": "0.5", "ledger_result_timeout_s": "7.5",
        "prices_file": str(tmp_path / "p.json"), "audit_anchors": str(tmp_path / "a.jsonl"),
        "jobs_lease_seconds": "12.5", "alert_webhook_url": "https://hooks.example/x",
        "alert_smtp_host": "mail.example", "alert_smtp_port": "25",
        "alert_smtp_from": "keeper@example", "alert_smtp_to": "a@example,b@example",
        "alert_smtp_starttls": "False", "alert_smtp_user": "keeper",
        "alert_max_attempts": "3", "alert_backoff_seconds": "2.5",
        "alert_max_per_kind_per_hour": "5",
        "compliance_rules_file": str(tmp_path / "r.json"), "secrets_dir": str(tmp_path / "s"),
        "atlas_url": "http://atlas:1", "atlas_port": "9101", "atlas_timeout_s": "3.5",
        "issuer_url": "http://issuer:2", "issuer_port": "9102", "issuer_timeout_s": "4.5",
        "fee_bps": "30", "burn_mode": "immediate", "buy_single_limit_cents": "100",
        "buy_daily_limit_cents": "200", "sell_daily_limit_cents": "300",
        "mint_escalate_after_s": "60.0", "receivable_escalate_after_s": "120.0",
        "withdrawal_max_fee_gwei": "77", "withdrawal_bump_after_s": "9.5",
        "auth_token_ttl_s": "60", "rate_limit_per_minute": "7", "rate_limit_flush_s": "0.5",
        "webhook_max_attempts": "4", "webhook_backoff_seconds": "1.5",
        "webhook_allow_loopback": "True", "bank_name": "First Example Bank",
        "safetx_max_age_s": "3600.0", "safetx_executor_max_gas": "500000",
        "treasury_policy_file": str(tmp_path / "t.json"), "treasury_dry_run": "True",
        "flows_outbox_retention_days": "7",
        "trading_venues_file": str(tmp_path / "v.json"),
        "trading_jurisdiction_rules_file": str(tmp_path / "j.json"),
        "taxlots_default_method": "hifo", "taxlots_fees_in_basis": "False",
        "taxlots_long_term_days": "366", "forensics_confirmations": "2",
        "forensics_retention_days": "30",
        "partner_url": "http://partner:3", "partner_timeout_s": "2.5",
        "partner_whitelist": "0xaa,0xbb",
        "rpc_fallback_urls": "http://b:1,http://c:2", "backup_dir": str(tmp_path / "bk"),
        "console_session_minutes": "10",
    }
    listed = {"alert_smtp_to": "('a@example', 'b@example')", "partner_whitelist": "('0xaa', '0xbb')",
              "rpc_fallback_urls": "('http://b:1', 'http://c:2')"}
    assert set(values) == set(ENVIRONMENT)  # the test covers every setting
    for field, value in values.items():
        clean_env.setenv(ENVIRONMENT[field], value)
    s = load_settings()
    for field, value in values.items():
        assert str(getattr(s, field)) == listed.get(field, value), field
    assert s.upstream_url == "http://127.0.0.1:18999"


def test_explicit_values_win_over_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("STRONGROOM_CHAIN_ID", "5")
    clean_env.setenv("STRONGROOM_DATA", str(tmp_path / "env"))
    s = Settings(chain_id=7, data_dir=tmp_path)
    assert s.chain_id == 7
    assert s.database_url == f"sqlite:///{tmp_path / 'strongroom.db'}"  # derived from the explicit dir


@pytest.mark.parametrize(("name", "value"), [
    ("STRONGROOM_CHAIN_ID", "mainnet"), ("STRONGROOM_CONFIRMATIONS", "-1"),
    ("STRONGROOM_API_PORT", "70000"), ("STRONGROOM_UPSTREAM_PORT", "0"),
    ("STRONGROOM_LEDGER_SQLITE_CACHE_KIB", "0"), ("STRONGROOM_LEDGER_WRITER_BUSY_S", "nan"),
    ("STRONGROOM_LEDGER_WRITER_BUSY_S", "-1"), ("STRONGROOM_LEDGER_RESULT_TIMEOUT_S", "inf"),
    # a caller must wait longer than a write waits for a lock (else a lock looks like a timeout)
    ("STRONGROOM_LEDGER_RESULT_TIMEOUT_S", "5"),
    ("STRONGROOM_JOBS_LEASE_SECONDS", "0"), ("STRONGROOM_ALERT_SMTP_PORT", "0"),
    ("STRONGROOM_ALERT_MAX_ATTEMPTS", "0"), ("STRONGROOM_ALERT_BACKOFF_SECONDS", "inf"),
    ("STRONGROOM_ALERT_SMTP_TO", "a@example,,b@example"),
])
def test_a_bad_value_is_refused_naming_the_variable(clean_env: pytest.MonkeyPatch, name: str,
                                                    value: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        load_settings()


def test_settings_are_immutable(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    with pytest.raises((TypeError, ValueError, AttributeError)):
        s.chain_id = 2  # type: ignore[misc]


def test_database_password_never_printed(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings(database_url="postgresql+psycopg://keeper:hunter2@db.internal/strongroom")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)
    assert "hunter2" not in s.redacted_database_url()
    assert s.database_url.endswith("keeper:hunter2@db.internal/strongroom")  # still usable


def test_alert_webhook_url_never_printed(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings(alert_webhook_url="https://hooks.example/T0/s3cr3t-token")
    assert "s3cr3t-token" not in repr(s) and "s3cr3t-token" not in str(s)


# environment reads by literal name: os.environ.get("X"), os.getenv("X"), os.environ["X"]
_ENV_READ = re.compile(r"""(?:environ\.get|getenv)\(\s*["']([A-Za-z0-9_]+)|environ\[\s*["']([A-Za-z0-9_]+)""")
# the process environment handed to children and libraries (PATH, SoftHSM2's own config file
# variable), not settings of ours
NOT_SETTINGS = {"PATH", "SOFTHSM2_CONF"}
# another engineer's file, still reading its variable itself until it takes
# ``config.default("ledger_result_timeout_s")`` (the value callers pass comes from Settings)
PENDING: set[tuple[str, str]] = set()


def test_no_other_module_reads_the_environment() -> None:
    """Settings is the one reader: other code neither names a variable of ours nor reads any
    variable by name from the environment.

    HSM PINs are secrets read by the component that needs them (``STRONGROOM_HSM_PIN``, named
    by its caller), never Settings values; set-up's own switches live in ``scripts/setup.sh``.
    """
    root = Path(__file__).resolve().parent.parent
    offenders = []
    for folder in ("keeper", "api", "scripts", "bench"):
        for path in (root / folder).rglob("*.py"):
            rel = str(path.relative_to(root))
            if rel == "keeper/config.py":
                continue
            text = path.read_text()
            offenders += [f"{rel}: {v}" for v in ALL_VARS if f'"{v}"' in text]
            for m in _ENV_READ.finditer(text):
                name = m.group(1) or m.group(2)
                if name not in NOT_SETTINGS and (rel, name) not in PENDING:
                    offenders.append(f"{rel}: reads {name}")
    assert offenders == []


def test_the_scan_sees_an_environment_read() -> None:
    """The scan above is not blind: each form of read it must catch is caught."""
    reads = ['os.environ.get("LEDGER_X", "5")', "os.getenv('LEDGER_X')", 'os.environ["LEDGER_X"]']
    for code in reads:
        m = _ENV_READ.search(code)
        assert m is not None and (m.group(1) or m.group(2)) == "LEDGER_X", code


def test_environment_gives_a_child_process_the_same_settings(clean_env: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    from keeper.config import environment

    env = environment(data_dir=tmp_path, rate_limit_per_minute=7, burn_mode="immediate")
    assert env["STRONGROOM_RATE_LIMIT_PER_MINUTE"] == "7"
    for name, value in env.items():
        clean_env.setenv(name, value)
    s = load_settings()
    assert (s.data_dir, s.rate_limit_per_minute, s.burn_mode) == (tmp_path, 7, "immediate")
    with pytest.raises(KeyError):
        environment(no_such_setting=1)
