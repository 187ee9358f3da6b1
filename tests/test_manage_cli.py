"""`signal-bot subscriptions export|import`, `signal-bot audit`, and the `topics` / `history`
mirrors, on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEED, clear_slack_environment, run_cli

CAPTURE = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def local_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    clear_slack_environment(monkeypatch)
    config = tmp_path / "signal-bot.toml"
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SIGNAL_BOT_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)


def test_export_then_import_elsewhere_is_idempotent(
    capsys: CAPTURE, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_cli(capsys, "subscribe", "C0AI", "topic:ai-advances")
    run_cli(capsys, "subscribe", "C0AI", "--", 'entity:"Open AI"', "-keyword:rumour")
    run_cli(capsys, "subscribe", "C0SEC", "security", "digest=daily@08:00", "tz=Europe/London")
    run_cli(capsys, "mute", "C0AI", "entity:meta", "for", "1d")

    code, exported, _ = run_cli(capsys, "subscriptions", "export")

    assert code == 0
    assert '  # C0AI\n  - channel: "C0AI"\n    filter: "topic:ai-advances"' in exported
    assert 'filter: "entity:open-ai -keyword:rumour"' in exported
    assert (
        'filter: "topic:security"\n    digest: "daily@08:00"\n    tz: "Europe/London"' in exported
    )
    assert 'mutes:\n  - channel: "C0AI"\n    filter: "entity:meta"\n    until: "' in exported
    file = tmp_path / "subscriptions.yaml"
    file.write_text(exported, encoding="utf-8")

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")  # an empty one
    code, planned, _ = run_cli(capsys, "subscriptions", "import", str(file), "--dry-run")
    assert code == 0
    assert "would add 4, would update 0, unchanged 0" in planned
    assert "subscriptions: []" in run_cli(capsys, "subscriptions", "export")[1]

    assert (
        "added 4, updated 0, unchanged 0"
        in run_cli(capsys, "subscriptions", "import", str(file))[1]
    )
    again = run_cli(capsys, "subscriptions", "import", str(file))[1]
    assert "added 0, updated 0, unchanged 4" in again
    assert run_cli(capsys, "subscriptions", "export")[1].count("- channel:") == 4  # with the mute
    file.write_text(exported.replace("daily@08:00", "weekly@fri@17:00"), encoding="utf-8")
    changed = run_cli(capsys, "subscriptions", "import", str(file))[1]
    assert "updated    C0SEC" in changed
    assert "added 0, updated 1, unchanged 3" in changed
    audit = run_cli(capsys, "audit")[1]
    assert audit.count(" import ") == 5  # three subscriptions and a mute added, then one edited
    assert "muted        mute #1: - -> entity:meta until" in audit
    assert "subscribed" in audit


def test_a_bad_file_names_every_bad_line_and_applies_nothing(
    capsys: CAPTURE, tmp_path: Path
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(
        "subscriptions:\n"
        '  - channel: "C0AI"\n'
        '    filter: "topic:ai-advances"\n'
        '  - channel: "general"\n'
        '    filter: "entity:Meta"\n'
        '  - channel: "C0SEC"\n'
        '    filter: "colour:red"\n'
        '  - channel: "C0X"\n'
        '    filtre: "ai"\n',
        encoding="utf-8",
    )

    code, out, err = run_cli(capsys, "subscriptions", "import", str(file))

    assert code == 1
    assert out == ""
    assert "line 4: channel: `general` is not a channel ID" in err
    assert "line 6: filter:" in err
    assert "colour" in err
    assert "line 9: unknown key `filtre`" in err
    assert "nothing was imported" in err
    assert "subscriptions: []" in run_cli(capsys, "subscriptions", "export")[1]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("subscriptions: [\n", "line 2: not YAML"),
        ("- a\n- b\n", "line 1: expected `subscriptions:`"),
        ("subscriptions:\n  - just a string\n", "line 2: expected `channel:` and `filter:`"),
        ("subscriptions:\n  - channel: C0AI\n", "filter: missing"),
    ],
)
def test_malformed_files_are_refused_with_their_line(
    capsys: CAPTURE, tmp_path: Path, text: str, problem: str
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(text, encoding="utf-8")
    code, _, err = run_cli(capsys, "subscriptions", "import", str(file))
    assert code == 1
    assert problem in err


def test_topics_history_and_audit_on_the_terminal(capsys: CAPTURE) -> None:
    run_cli(capsys, "ingest", str(SEED))
    run_cli(capsys, "subscribe", "local", "entity:Meta")
    run_cli(capsys, "unsubscribe", "local", "entity:Meta")

    history = run_cli(capsys, "history", "local")[1]
    assert history.index("unsubscribed") < history.index("subscribed subscription #1")
    audit = run_cli(capsys, "audit", "--channel", "local")[1]
    assert "local        cli          unsubscribed subscription #1: entity:meta -> -" in audit
    assert run_cli(capsys, "topics")[0] == 0
