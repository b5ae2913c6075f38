"""Alert channels and the keeper's scheduler are built from Settings: the webhook URL and the
SMTP server are settings, their secrets are 0600 files read by :class:`PinSource` (never
settings values), and a configured channel delivers a real alert."""

from __future__ import annotations

import email
from email import policy

import pytest

from keeper.alerts import AlertDispatcher, LogChannel, SmtpChannel, WebhookChannel
from keeper.alerts.configured import (
    SMTP_PASSWORD_FILE,
    WEBHOOK_SECRET_FILE,
    channels_from_settings,
    dispatcher_from_settings,
)
from keeper.config import Settings
from keeper.deployments import Deployment
from keeper.jobs import KeeperJobs
from keeper.keys.secrets import write_secret_file
from strongroom_testkit.dbtemplate import fresh_url


def test_no_channel_settings_means_no_extra_channel(tmp_path) -> None:
    assert channels_from_settings(Settings(data_dir=tmp_path)) == []


def test_the_webhook_from_settings_signs_with_the_secret_file(tmp_path, ledger, receiver) -> None:
    write_secret_file(tmp_path / "secrets" / WEBHOOK_SECRET_FILE, receiver.secret.decode())
    settings = Settings(data_dir=tmp_path, alert_webhook_url=receiver.url)
    [hook] = channels_from_settings(settings)
    assert isinstance(hook, WebhookChannel) and receiver.secret.decode() not in repr(hook)
    ledger.raise_alert("job_failing", "from settings", "s1")
    assert AlertDispatcher(ledger, [hook]).dispatch_once() == 1
    assert receiver.requests[0]["valid"] and receiver.requests[0]["body"]["ref"] == "s1"


def test_a_webhook_without_its_secret_is_refused(tmp_path) -> None:
    with pytest.raises(LookupError, match="alert webhook secret"):
        channels_from_settings(Settings(data_dir=tmp_path, alert_webhook_url="http://127.0.0.1:9/"))


def test_a_world_readable_secret_is_refused(tmp_path) -> None:
    path = write_secret_file(tmp_path / "secrets" / WEBHOOK_SECRET_FILE, "x")
    path.chmod(0o644)
    with pytest.raises(PermissionError):
        channels_from_settings(Settings(data_dir=tmp_path, alert_webhook_url="http://127.0.0.1:9/"))


def test_smtp_from_settings_mails_every_recipient(tmp_path, ledger, smtp) -> None:
    box, port = smtp
    settings = Settings(data_dir=tmp_path, alert_smtp_host="127.0.0.1", alert_smtp_port=port,
                        alert_smtp_from="keeper@bank.example",
                        alert_smtp_to="ops@bank.example, oncall@bank.example",
                        alert_smtp_starttls=False)
    [mail] = channels_from_settings(settings)
    assert isinstance(mail, SmtpChannel) and mail.username is None
    ledger.raise_alert("reorg", "mailed", "s2")
    assert AlertDispatcher(ledger, [mail]).dispatch_once() == 1
    [env] = box.envelopes
    assert env.rcpt_tos == ["ops@bank.example", "oncall@bank.example"]
    assert email.message_from_bytes(env.content, policy=policy.default)["Subject"].endswith("mailed")


def test_smtp_login_needs_its_password_file(tmp_path) -> None:
    base = {"data_dir": tmp_path, "alert_smtp_host": "127.0.0.1", "alert_smtp_from": "k@x.test",
            "alert_smtp_to": "o@x.test", "alert_smtp_user": "keeper"}
    with pytest.raises(LookupError, match="SMTP password"):
        channels_from_settings(Settings(**base))
    write_secret_file(tmp_path / "secrets" / SMTP_PASSWORD_FILE, "hunter2")
    [mail] = channels_from_settings(Settings(**base))
    assert (mail.username, mail.password) == ("keeper", "hunter2")
    assert "hunter2" not in repr(mail)


def test_smtp_without_sender_or_recipients_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="STRONGROOM_ALERT_SMTP_TO"):
        channels_from_settings(Settings(data_dir=tmp_path, alert_smtp_host="127.0.0.1",
                                        alert_smtp_from="k@x.test"))


def test_dispatcher_retries_as_configured(tmp_path, ledger) -> None:
    d = dispatcher_from_settings(Settings(data_dir=tmp_path, alert_max_attempts=3,
                                          alert_backoff_seconds=2.5), ledger)
    assert (d.max_attempts, d.backoff) == (3, 2.5)
    assert [type(c) for c in d.channels.values()] == [LogChannel]


def test_keeper_jobs_take_lease_and_alerting_from_settings(tmp_path, receiver) -> None:
    url = fresh_url(tmp_path / 'keeper.db', migrated=True)
    write_secret_file(tmp_path / "secrets" / WEBHOOK_SECRET_FILE, receiver.secret.decode())
    settings = Settings(data_dir=tmp_path, database_url=url, rpc_url="http://127.0.0.1:9",
                        jobs_lease_seconds=12.0, alert_webhook_url=receiver.url,
                        alert_max_attempts=4, alert_backoff_seconds=1.5)
    jobs = KeeperJobs(settings, Deployment(1, {"vault": "0x" + "11" * 20}))
    try:
        assert jobs.scheduler.lease_ttl == 12.0
        assert (jobs.alerts.max_attempts, jobs.alerts.backoff) == (4, 1.5)
        assert set(jobs.alerts.channels) == {"log", "webhook"}
        jobs.ledger.raise_alert("job_failing", "keeper wired", "s3")
        assert jobs.alerts.dispatch_once() == 2  # log + webhook
    finally:
        jobs.ledger.close()
    assert receiver.requests[0]["valid"]
