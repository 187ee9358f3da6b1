"""How many `signal-bot web` processes serve when nobody says: one per core the process may
really use (its CPU affinity, within a container's CPU quota), at most four."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli, wait_until
from fake_slack import FakeSlack
from test_metrics import free_port
from test_web_workers import children, healthy, worker_environment

from bot import cores, web_workers
from bot.config import Settings
from bot.cores import cgroup_cpu_quota, usable_cores
from bot.web_workers import MAX_DEFAULT_WEB_WORKERS, default_web_workers, web_worker_count


def cgroup_v2(root: Path, cpu_max: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cpu.max").write_text(cpu_max + "\n")
    return root


def cgroup_v1(root: Path, quota: str, period: str) -> Path:
    (root / "cpu").mkdir(parents=True, exist_ok=True)
    (root / "cpu" / "cpu.cfs_quota_us").write_text(quota + "\n")
    (root / "cpu" / "cpu.cfs_period_us").write_text(period + "\n")
    return root


def test_a_container_quota_caps_the_cores_and_no_quota_leaves_the_affinity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cores, "_affinity_cores", lambda: 16)
    assert cgroup_cpu_quota(cgroup_v2(tmp_path / "v2", "150000 100000")) == 1.5
    assert usable_cores(tmp_path / "v2") == 2  # one and a half cores: two processes
    assert usable_cores(cgroup_v2(tmp_path / "v2-max", "max 100000")) == 16
    assert usable_cores(cgroup_v1(tmp_path / "v1", "50000", "100000")) == 1
    assert usable_cores(cgroup_v1(tmp_path / "v1-none", "-1", "100000")) == 16
    assert usable_cores(tmp_path / "no-cgroup-here") == 16
    assert usable_cores(cgroup_v2(tmp_path / "junk", "lots")) == 16


def test_the_default_is_one_per_usable_core_up_to_four(monkeypatch: pytest.MonkeyPatch) -> None:
    for available, expected in ((1, 1), (2, 2), (3, 3), (4, 4), (32, MAX_DEFAULT_WEB_WORKERS)):
        monkeypatch.setattr(web_workers, "usable_cores", lambda n=available: n)
        assert default_web_workers() == expected


def test_workers_given_win_over_the_setting_which_wins_over_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web_workers, "usable_cores", lambda: 3)
    for variable in ("SIGNAL_BOT_WEB_WORKERS", "WEB_CONCURRENCY"):
        monkeypatch.delenv(variable, raising=False)
    assert web_worker_count(None, Settings(_env_file=None)) == 3
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    assert web_worker_count(None, Settings(_env_file=None)) == 1
    assert web_worker_count(5, Settings(_env_file=None)) == 5


def test_help_says_what_the_default_is_here(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli(capsys, "web", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert f"at most {MAX_DEFAULT_WEB_WORKERS}: {default_web_workers()} here" in text


@pytest.mark.slow
def test_web_with_no_setting_serves_with_one_process_per_usable_core(
    sqlite_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    environment = worker_environment(sqlite_url, slack, free_port(), tmp_path)
    for variable in ("SIGNAL_BOT_WEB_WORKERS", "WEB_CONCURRENCY"):
        environment.pop(variable, None)
    log = tmp_path / "web.log"
    parent = subprocess.Popen(
        [sys.executable, "-m", "bot", "web"],
        env=environment,
        cwd=tmp_path,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    expected = default_web_workers()
    try:
        base_url = f"http://127.0.0.1:{environment['PORT']}"
        wait_until(lambda: healthy(base_url), 60, "the web process to answer")
        if expected > 1:  # one process serves alone; N > 1 are the parent's children
            wait_until(lambda: len(children(parent.pid)) == expected, 30, f"{expected} workers")
    finally:
        parent.terminate()
        assert parent.wait(timeout=30) == 0, log.read_text(encoding="utf-8")
    text = log.read_text(encoding="utf-8")
    if expected > 1:
        assert f"with {expected} worker processes" in text, text
    else:
        assert "worker processes" not in text, text
