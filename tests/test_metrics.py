"""GET /metrics (prometheus-client) and JSON logs: in one process, and across a worker and a
web process sharing PROMETHEUS_MULTIPROC_DIR, as under gunicorn or a Procfile."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import BOT_TOKEN, SIGNING_SECRET
from fake_slack import FakeSlack
from served_port import ANY_PORT, served_port
from test_deliver import keys_in, subscribe
from test_workers import wait_until

from bot.app import Services
from bot.logs import JsonFormatter
from bot.store.subscriptions import ChannelRef

AUTH = {"Authorization": "Bearer push-secret"}
REQUIRED = (
    "signal_bot_signals_ingested_total",
    "signal_bot_deliveries_total",
    "signal_bot_slack_rate_limited_total",
    "signal_bot_source_poll_errors_total",
    "signal_bot_outbox_waiting",
    "signal_bot_delivery_seconds",
    "signal_bot_search_seconds",
)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if match and match[1] == name:
            found = ",".join(sorted((match[2] or "").split(","))) if match[2] else ""
            if found == wanted:
                return float(match[3])
    return 0.0


def scrape(base_url: str) -> str:
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def a_brief(key: str) -> dict[str, object]:
    return {"title": f"Brief {key}", "published": "2026-04-23", "key": key, "topic": "AI Advances"}


def test_metrics_count_what_the_bot_did(services: Services, slack: FakeSlack, web_url: str) -> None:
    subscribe(services, slack, "C1", "C2")
    before = scrape(web_url)
    response = httpx.post(f"{web_url}/signals", json=a_brief("m1"), headers=AUTH, timeout=10)
    assert response.status_code in (201, 202)
    services.deliverer.deliver_pending()  # what the worker does (or the web process itself)
    wait_until(lambda: keys_in(slack, "C2") == ["m1"], 10, "both posts")
    services.commands.brief("brief", ChannelRef(channel_id="C1"))
    wait_until(
        lambda: sample(scrape(web_url), "signal_bot_outbox_waiting") == 0, 10, "an empty outbox"
    )

    after = scrape(web_url)
    names = {line.split()[2] for line in after.splitlines() if line.startswith("# TYPE")}
    assert all(name.startswith("signal_bot_") for name in names), names
    for name in REQUIRED:
        assert name in after, name
    new = {"source": "push", "change": "new"}
    ingested = sample(after, "signal_bot_signals_ingested_total", **new)
    assert ingested - sample(before, "signal_bot_signals_ingested_total", **new) == 1
    sent = {"outcome": "sent"}
    deliveries = sample(after, "signal_bot_deliveries_total", **sent)
    assert deliveries - sample(before, "signal_bot_deliveries_total", **sent) >= 2
    posts = sample(after, "signal_bot_delivery_seconds_count")
    assert posts - sample(before, "signal_bot_delivery_seconds_count") >= 2
    searches = sample(after, "signal_bot_search_seconds_count")
    assert searches - sample(before, "signal_bot_search_seconds_count") == 1
    assert sample(after, "signal_bot_outbox_rows", state="sent") == 2


def test_json_logs_name_the_delivery(
    services: Services, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    from test_deliver import brief, publish

    subscribe(services, slack, "CGONE", archived=True)
    publish(services, brief("k-json"))
    with caplog.at_level(logging.WARNING, logger="bot.deliver"):
        services.deliverer.deliver_pending()

    (paused,) = [r for r in caplog.records if "paused channel" in r.getMessage()]
    entry = json.loads(JsonFormatter().format(paused))
    assert entry["level"] == "warning"
    assert entry["channel"] == "CGONE"
    assert entry["signal_key"] == "k-json"
    assert isinstance(entry["delivery_id"], int)
    assert "team" not in entry, "single-token deliveries have no team to name"


@pytest.mark.slow
def test_a_web_process_reports_the_worker_processes_metrics(
    services: Services, slack: FakeSlack, tmp_path: Path, signals_dir: Path
) -> None:
    subscribe(services, slack, "C1", "C2", "C3")
    sources = tmp_path / "backfill.toml"
    sources.write_text(
        f'[[sources]]\nname = "optyx"\nkind = "folder"\npath = "{signals_dir}"\n'
        'interval = "1s"\nbackfill = true\n',
        encoding="utf-8",
    )
    (signals_dir / "one.json").write_text(json.dumps(a_brief("mp-1")), encoding="utf-8")
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    environment = {
        **os.environ,
        "DATABASE_URL": services.settings.database_url.get_secret_value(),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "SIGNAL_BOT_CONFIG": str(sources),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "SIGNAL_BOT_LOG_FORMAT": "json",
        "PORT": ANY_PORT,
    }
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "web")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", name],
            env=environment,
            cwd=tmp_path,
            stdout=logs[name].open("wb"),
            stderr=subprocess.STDOUT,
        )
        for name in ("worker", "web")
    ]
    try:
        posted = lambda: all(keys_in(slack, c) == ["mp-1"] for c in ("C1", "C2", "C3"))  # noqa: E731
        wait_until(posted, 30, "the worker's posts")
        base_url = f"http://127.0.0.1:{served_port(logs['web'], processes[1])}"
        wait_until(lambda: _answers(base_url), 30, "the web process")
        wait_until(
            lambda: sample(scrape(base_url), "signal_bot_deliveries_total", outcome="sent") == 3,
            30,
            "the worker's three deliveries in the web process's /metrics",
        )
        text = scrape(base_url)
        assert sample(text, "signal_bot_signals_ingested_total", source="optyx", change="new") == 1
    finally:
        for process in processes:
            process.terminate()
        codes = [process.wait(timeout=20) for process in processes]
    assert codes == [0, 0], "SIGTERM stops both cleanly"
    for name, path in logs.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines, f"{name} logged nothing"
        for line in lines:
            assert isinstance(json.loads(line), dict), f"{name}: {line}"


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
