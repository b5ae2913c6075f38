"""``python -m keeper.jobs run``: refusals before anything starts (the running keeper is exercised
by tests/integrations/test_keepers_pg_takeover.py)."""

from __future__ import annotations

from keeper.jobs.__main__ import main


def test_unknown_jobs_and_a_missing_deployment_stop_before_anything_runs(tmp_path, monkeypatch,
                                                                         capsys):
    monkeypatch.setenv("STRONGROOM_DATA", str(tmp_path))
    monkeypatch.setenv("STRONGROOM_DEPLOYMENTS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("STRONGROOM_DB_URL", f"sqlite:///{tmp_path / 'never.db'}")
    assert main(["run", "--only", "follow,no_such_job"]) == 2
    assert "no_such_job" in capsys.readouterr().err
    assert main(["run", "--only", "follow"]) == 2
    assert "no usable deployments record" in capsys.readouterr().err
    assert not (tmp_path / "never.db").exists()  # nothing was opened
