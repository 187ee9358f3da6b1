"""The archive import's pipeline: worker processes read the archive while this one stores it.

What the user sees must not depend on it: bad lines named exactly and in order, the exit
status, a brief repeated in the archive stored once (revised when it changed), subscriptions
served as for any source, and an import cut short by a crash or Ctrl-C leaving whole briefs
(with their search index) that a second run completes without duplicates.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import clear_slack_environment, run_cli, wait_until
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot import bulk_ingest, bulk_workers
from bot.search.backends import Constraints, TermAt
from bot.search.backends.sqlite import SqliteIndex
from bot.search.grammar import parse_query, text_terms
from bot.store.bulk_writes import FTS5_DEFAULT_HASHSIZE

ANNOUNCE_NEW = bulk_ingest.announce_new
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def local_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    clear_slack_environment(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bulk.db'}")
    monkeypatch.setenv("SIGNAL_BOT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 3 items and batches of 5 briefs, so a short archive crosses many of both."""
    monkeypatch.setattr(bulk_ingest, "CHUNK", 3)
    monkeypatch.setattr(bulk_ingest, "BATCH", 5)
    monkeypatch.setattr(bulk_ingest, "AHEAD", 2)


def brief(number: int, **changes: object) -> dict[str, object]:
    return {
        "title": f"Archive brief {number}",
        "published": f"20{10 + number % 14}-0{1 + number % 9}-{1 + number % 28:02d}T00:00:00Z",
        "key": f"archive-{number}",
        "summary": f"Number {number} of the archive, about zephyrs.",
        "sections": [{"heading": "The News", "body": f"Old news number{number}."}],
        **changes,
    }


def write_ndjson(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def database(tmp_path: Path) -> Any:
    return create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")


def stored_keys(tmp_path: Path) -> list[str]:
    with database(tmp_path).connect() as connection:
        return list(connection.scalars(text("SELECT key FROM signals ORDER BY key")))


def indexed_count(tmp_path: Path, word: str) -> int:
    """Briefs the full-text index finds for `word` (each stored brief says `zephyrs`), asked
    the way search asks it."""
    terms = [TermAt(term) for term in text_terms(parse_query(word))]
    with Session(database(tmp_path)) as session:
        return len(SqliteIndex(session, Constraints()).some(terms, 10**9))


@pytest.mark.slow
def test_worker_processes_name_bad_lines_exactly_and_in_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_pieces: None
) -> None:
    lines = [json.dumps(brief(n)) for n in range(40)]
    bad = {3: '{"title": "no date"}', 11: "{not json", 12: "[1, 2]", 29: '{"title": ""}'}
    for index, line in bad.items():
        lines[index] = line
    archive = write_ndjson(tmp_path / "archive.ndjson", lines)

    code, out, err = run_cli(capsys, "ingest", str(archive), "--workers", "2")

    assert code == 1
    assert "read 40: 36 new, 0 revised, 0 unchanged, 4 failed" in out
    skipped = [line for line in err.splitlines() if line.startswith("signal-bot: skipped")]
    assert [line.split(": ")[1] for line in skipped] == [
        f"skipped {archive}:{index + 1}" for index in sorted(bad)
    ]
    assert f"{archive}:4: published: Field required" in skipped[0]
    assert f"{archive}:12: not JSON" in skipped[1]
    assert f"{archive}:13: expected a JSON object" in skipped[2]
    assert stored_keys(tmp_path) == sorted(f"archive-{n}" for n in range(40) if n not in bad)
    assert indexed_count(tmp_path, "zephyrs") == 36


def test_the_exit_status_is_zero_when_every_line_is_stored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_pieces: None
) -> None:
    archive = write_ndjson(tmp_path / "a.ndjson", [json.dumps(brief(n)) for n in range(12)])
    code, out, _ = run_cli(capsys, "ingest", str(archive), "--workers", "0")
    assert code == 0
    assert "read 12: 12 new, 0 revised, 0 unchanged, 0 failed" in out
    again, out_again, _ = run_cli(capsys, "ingest", str(archive), "--workers", "0")
    assert again == 1  # nothing new: the contract's "stored nothing"
    assert "read 12: 0 new, 0 revised, 12 unchanged, 0 failed" in out_again


@pytest.mark.parametrize("workers", ["0", pytest.param("1", marks=pytest.mark.slow)])
def test_a_brief_twice_in_the_archive_is_stored_once_and_revised_if_it_changed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_pieces: None, workers: str
) -> None:
    lines = [json.dumps(brief(n)) for n in range(10)]
    lines.insert(2, json.dumps(brief(1)))  # the same, in the same batch
    lines.append(json.dumps(brief(4, title="Archive brief 4, corrected")))  # a later batch
    archive = write_ndjson(tmp_path / "twice.ndjson", lines)

    code, out, _ = run_cli(capsys, "ingest", str(archive), "--workers", workers)

    assert code == 0
    assert "read 12: 10 new, 1 revised, 1 unchanged, 0 failed" in out
    assert stored_keys(tmp_path) == sorted(f"archive-{n}" for n in range(10))
    with database(tmp_path).connect() as connection:
        title, revision = connection.execute(
            text("SELECT title, revision FROM signals WHERE key = 'archive-4'")
        ).one()
    assert (title, revision) == ("Archive brief 4, corrected", 2)
    assert indexed_count(tmp_path, "zephyrs") == 10
    assert indexed_count(tmp_path, "corrected") == 1


def test_new_briefs_are_queued_for_matching_subscriptions_as_from_any_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, small_pieces: None
) -> None:
    assert run_cli(capsys, "subscribe", "C0ARCHIVE", "keyword:number7")[0] == 0
    lines = [json.dumps(brief(n)) for n in range(9)]
    archive = write_ndjson(tmp_path / "subscribed.ndjson", lines)

    code, out, _ = run_cli(capsys, "ingest", str(archive), "--workers", "0")

    assert code == 0
    assert "9 new, 0 revised, 0 unchanged, 0 failed; 1 posts queued" in out
    query = text(
        "SELECT s.key, d.channel_id FROM deliveries d JOIN signals s ON s.id = d.signal_id"
    )
    with database(tmp_path).connect() as connection:
        assert connection.execute(query).all() == [("archive-7", "C0ARCHIVE")]


def failing_on_batch(number: int, error: BaseException) -> Any:
    """`announce_new` that raises `error` inside the transaction of batch `number`."""
    calls = []

    def announce(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == number:
            raise error
        return ANNOUNCE_NEW(*args, **kwargs)

    return announce


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in this process, as in a terminal (pytest-xdist's
    workers ignore SIGINT, and so would the test)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def ctrl_c_on_batch(number: int) -> Any:
    """`announce_new` that, inside the transaction of batch `number`, gets Ctrl-C (SIGINT)."""
    calls = []

    def announce(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == number:
            os.kill(os.getpid(), signal.SIGINT)
        return ANNOUNCE_NEW(*args, **kwargs)

    return announce


@pytest.mark.parametrize("workers", ["0", pytest.param("1", marks=pytest.mark.slow)])
def test_ctrl_c_while_storing_stops_after_that_batch_and_the_same_command_completes_it(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    small_pieces: None,
    monkeypatch: pytest.MonkeyPatch,
    ctrl_c_raises: None,
    workers: str,
) -> None:
    archive = write_ndjson(tmp_path / "cut.ndjson", [json.dumps(brief(n)) for n in range(17)])
    monkeypatch.setattr(bulk_ingest, "announce_new", ctrl_c_on_batch(3))

    code, out, err = run_cli(capsys, "ingest", str(archive), "--workers", workers)

    assert code == 130
    assert "read 15: 15 new, 0 revised, 0 unchanged, 0 failed" in out
    assert "interrupted; what is counted above is stored" in err
    assert len(stored_keys(tmp_path)) == 15
    assert indexed_count(tmp_path, "zephyrs") == 15
    assert fts5_hashsize(tmp_path) == FTS5_DEFAULT_HASHSIZE  # the import's setting put back

    monkeypatch.setattr(bulk_ingest, "announce_new", ANNOUNCE_NEW)
    code, out, _ = run_cli(capsys, "ingest", str(archive), "--workers", workers)
    assert code == 0
    assert "read 17: 2 new, 0 revised, 15 unchanged, 0 failed" in out
    assert stored_keys(tmp_path) == sorted(f"archive-{n}" for n in range(17))
    assert indexed_count(tmp_path, "zephyrs") == 17


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_stops_workers_and_keeps_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Ctrl-C: SIGINT to the whole process group, workers included."""
    archive = write_ndjson(tmp_path / "big.ndjson", [json.dumps(brief(n)) for n in range(30_000)])
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "bot", "ingest", str(archive), "--workers", "1"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    try:
        wait_until(lambda: stored_count(tmp_path) > 0, 120, "the first batch to be stored")
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    assert process.returncode == 130, err
    stored = stored_count(tmp_path)
    assert 0 < stored < 30_000
    assert f"read {stored:,}: {stored:,} new" in out
    assert indexed_count(tmp_path, "zephyrs") == stored


def ctrl_c_as_in_a_terminal() -> None:
    """In the child: SIGINT's default, which an ignoring parent (pytest-xdist) would pass on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stored_count(tmp_path: Path) -> int:
    try:
        with database(tmp_path).connect() as connection:
            return int(connection.scalar(text("SELECT count(*) FROM signals")) or 0)
    except OperationalError:
        return 0  # not created yet


def test_a_crash_mid_import_rolls_back_its_batch_and_a_rerun_stores_the_rest(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    small_pieces: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    archive = write_ndjson(tmp_path / "crash.ndjson", [json.dumps(brief(n)) for n in range(13)])
    monkeypatch.setattr(bulk_ingest, "announce_new", failing_on_batch(2, OSError("disk gone")))

    with pytest.raises(OSError, match="disk gone"):
        run_cli(capsys, "ingest", str(archive), "--workers", "0")

    assert len(stored_keys(tmp_path)) == 5
    assert indexed_count(tmp_path, "zephyrs") == 5
    monkeypatch.setattr(bulk_ingest, "announce_new", ANNOUNCE_NEW)
    code, out, _ = run_cli(capsys, "ingest", str(archive), "--workers", "0")
    assert code == 0
    assert "read 13: 8 new, 0 revised, 5 unchanged, 0 failed" in out
    assert indexed_count(tmp_path, "zephyrs") == 13


def test_workers_must_be_a_whole_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli(capsys, "ingest", "archive.ndjson", "--workers", "-1")
    assert "--workers: expected a whole number, 0 or more, not '-1'" in capsys.readouterr().err


def fts5_hashsize(tmp_path: Path) -> int:
    query = text("SELECT v FROM signals_fts_config WHERE k = 'hashsize'")
    with database(tmp_path).connect() as connection:
        return int(connection.scalar(query) or FTS5_DEFAULT_HASHSIZE)


@pytest.mark.postgres
def test_postgresql_takes_the_same_multi_row_inserts(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    small_pieces: None,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    lines = [json.dumps(brief(n)) for n in range(11)]
    lines.insert(4, json.dumps(brief(2, summary="Number 2, rewritten about mistrals.")))
    archive = write_ndjson(tmp_path / "pg.ndjson", lines)

    code, out, _ = run_cli(capsys, "ingest", str(archive), "--workers", "0")

    assert code == 0
    assert "read 12: 11 new, 1 revised, 0 unchanged, 0 failed" in out
    _, found, _ = run_cli(capsys, "search", "mistrals")
    assert "Archive brief 2" in found
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM signals")) == 11
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("cpu_max", "pinned", "expected"),
    [
        ("max 100000\n", 8, 8),  # no quota: the cores it is pinned to
        ("150000 100000\n", 8, 2),  # 1.5 CPUs of quota: two cores' worth of processes
        ("400000 100000\n", 2, 2),  # a quota above the pinned cores: the pinned cores
        ("50000 100000\n", 4, 1),
        (None, 3, 3),  # no cgroup v2 file
        ("garbage", 3, 3),
    ],
)
def test_usable_cores_follow_the_container_quota_and_the_affinity_mask(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cpu_max: str | None,
    pinned: int,
    expected: int,
) -> None:
    limit = tmp_path / "cpu.max"
    if cpu_max is not None:
        limit.write_text(cpu_max)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(pinned)), raising=False)
    assert bulk_workers.usable_cores(limit) == expected
