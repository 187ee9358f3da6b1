"""`signal-bot web --workers N`: real processes on one loopback port, signed requests, one
database, metrics added up across the workers, a dead worker replaced, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import BOT_TOKEN, SIGNING_SECRET, run_cli, wait_until
from fake_slack import FakeSlack
from served_port import ANY_PORT, served_port
from slack_signing import sign, slash_command_body
from test_metrics import sample

from bot.config import Settings

PUSH_TOKEN = "push-secret"  # conftest's settings
FORM = "application/x-www-form-urlencoded"
BRIEF = {
    "title": "Quasarine lattice ships",
    "published": "2026-04-23",
    "key": "workers-1",
    "entity": "Optyx",
    "topic": "AI Advances",
    "summary": "A lattice of quasarine, shipped.",
    "sections": [{"heading": "The News", "body": "It shipped to every region."}],
}


def worker_environment(sqlite_url: str, slack: FakeSlack, tmp: Path) -> dict[str, str]:
    """SQLite: several processes on one file is the case to prove (PostgreSQL is made for it)."""
    environment = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "SIGNAL_INGEST_TOKEN": PUSH_TOKEN,
        "SIGNAL_BOT_CONFIG": str(tmp / "none.toml"),
        "PORT": ANY_PORT,
        "TMPDIR": str(tmp),  # where the parent makes its metrics folder
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return environment


@pytest.fixture
def two_workers(
    sqlite_url: str, slack: FakeSlack, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    log = tmp_path / "web.log"
    parent = subprocess.Popen(
        [sys.executable, "-m", "bot", "web", "--workers", "2"],
        env=worker_environment(sqlite_url, slack, tmp_path),
        cwd=tmp_path,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        base_url = f"http://127.0.0.1:{served_port(log, parent)}"
        wait_until(lambda: len(children(parent.pid)) == 2, 30, "two worker processes")
        wait_until(lambda: healthy(base_url), 30, "the workers to answer")
        yield parent, base_url
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def brief_command(base_url: str, slack: FakeSlack, text: str) -> httpx.Response:
    """`/brief TEXT`, signed as Slack signs it, on a new connection."""
    body = slash_command_body(
        "/brief", text, channel_id="C0AI", response_url=slack.response_url("brief")
    )
    headers = {**sign(body, SIGNING_SECRET), "Content-Type": FORM}
    return httpx.post(f"{base_url}/slack/events", content=body, headers=headers, timeout=10)


def answered_titles(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return json.dumps(response.json()["blocks"])


def searches_counted(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return sample(text, "signal_bot_search_seconds_count")


@pytest.mark.slow
def test_two_workers_serve_one_port_and_share_the_database_and_metrics(
    two_workers: tuple[subprocess.Popen[bytes], str], slack: FakeSlack
) -> None:
    parent, base_url = two_workers
    first, second = children(parent.pid)

    pushed = httpx.post(
        f"{base_url}/signals",
        json=BRIEF,
        headers={"Authorization": f"Bearer {PUSH_TOKEN}"},
        timeout=10,
    )
    assert pushed.status_code == 202, pushed.text
    assert len(pushed.json()["new"]) == 1

    # A stopped worker accepts nothing, so each batch is answered by the other one alone.
    for paused, batch in ((first, 3), (second, 2)):
        os.kill(paused, signal.SIGSTOP)
        try:
            for _ in range(batch):
                assert "Quasarine lattice ships" in answered_titles(
                    brief_command(base_url, slack, "quasarine")
                )
        finally:
            os.kill(paused, signal.SIGCONT)
    assert searches_counted(base_url) == 5, "either worker's /metrics adds up both"

    forged = slash_command_body("/brief", "quasarine", channel_id="C0AI", response_url="x")
    headers = {
        **sign(forged, "not-the-secret"),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert (
        httpx.post(f"{base_url}/slack/events", content=forged, headers=headers).status_code == 401
    )


@pytest.mark.slow
def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(
    two_workers: tuple[subprocess.Popen[bytes], str], slack: FakeSlack, tmp_path: Path
) -> None:
    parent, base_url = two_workers
    assert "No briefs match" in answered_titles(brief_command(base_url, slack, "zyxxq"))
    killed = children(parent.pid)[0]
    os.kill(killed, signal.SIGKILL)
    wait_until(
        lambda: len(children(parent.pid)) == 2 and killed not in children(parent.pid),
        30,
        "a new worker in place of the killed one",
    )
    wait_until(lambda: healthy(base_url), 30, "the new worker to answer")
    for _ in range(4):
        assert "No briefs match" in answered_titles(brief_command(base_url, slack, "zyxxq"))
    assert searches_counted(base_url) == 5, "the dead worker's searches are still counted"
    workers = children(parent.pid)

    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 0
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "no worker outlives it"
    assert not list(tmp_path.glob("signal-bot-metrics-*")), "its metrics folder is removed"
    log = (tmp_path / "web.log").read_text(encoding="utf-8")
    assert f"web worker {killed} exited" in log


def test_workers_must_be_a_whole_number_from_1_to_64(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for given in ("0", "65", "two"):
        with pytest.raises(SystemExit) as exited:
            run_cli(capsys, "web", "--workers", given)
        assert exited.value.code == 2
        assert "expected a whole number from 1 to 64" in capsys.readouterr().err
    for variable in ("SIGNAL_BOT_WEB_WORKERS", "WEB_CONCURRENCY"):
        monkeypatch.setenv(variable, "0")
        code, _out, err = run_cli(capsys, "web")
        assert code == 2
        assert "SIGNAL_BOT_WEB_WORKERS: Input should be greater than or equal to 1" in err
        monkeypatch.delenv(variable)


def test_signal_bot_web_workers_wins_over_web_concurrency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    assert Settings(_env_file=None).signal_bot_web_workers == 4
    monkeypatch.setenv("SIGNAL_BOT_WEB_WORKERS", "2")
    assert Settings(_env_file=None).signal_bot_web_workers == 2
    monkeypatch.delenv("SIGNAL_BOT_WEB_WORKERS")
    monkeypatch.delenv("WEB_CONCURRENCY")
    assert Settings(_env_file=None).signal_bot_web_workers == 1


@pytest.mark.slow
def test_workers_that_cannot_start_stop_the_parent_with_a_reason(
    sqlite_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    environment = worker_environment(sqlite_url, slack, tmp_path)
    environment["TEMPLATES_DIR"] = str(tmp_path / "no-such-folder")
    finished = subprocess.run(
        [sys.executable, "-m", "bot", "web", "--workers", "2"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2
    assert "a web worker could not start" in finished.stderr
    assert "TEMPLATES_DIR" in finished.stderr, "each worker's own reason is in the log"
