"""An archive import stores exactly what the normal store path stores, search index included.

`signal-bot ingest archive.ndjson` takes a faster road than a feed or a single document: rows
made in worker processes and handed back as tuples, many rows per INSERT, oldest day first, a
larger FTS5 `hashsize`. What it leaves must not depend on that road. The same briefs are stored
one at a time through `bot.ingest.ingest` into a second database, and the two are compared
brief by brief (by key: `seq` follows the order of storing): every column, and every token the
full-text index holds for the brief, with its column and position (FTS5's `fts5vocab`).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import clear_slack_environment, run_cli
from sqlalchemy import Connection, create_engine, text

from bot import bulk_ingest
from bot.ingest import ingest
from bot.signal import Section, Signal
from bot.sources.stream import stream_signals
from bot.store import bulk_writes
from bot.store.db import make_engine, make_session_factory, transaction, upgrade
from bot.store.signals import new_row, new_row_values, row_values, signal_of_row

# Columns that say when or in which order a brief was stored, not what was stored.
STORING_ORDER = ("seq", "ingested_at", "revised_at")
WORDS = [
    "model",
    "of",
    "the",
    "data",
    "open",
    "weights",
    "release",
    "agent",
    "price",
    "chip",
    "cloud",
    "meta",
    "muse",
    "spark",
]


@pytest.fixture(autouse=True)
def local_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_slack_environment(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bulk.db'}")
    monkeypatch.setenv("SIGNAL_BOT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    # Chunks of 3 items and batches of 5 briefs, so a short archive crosses many of both.
    monkeypatch.setattr(bulk_ingest, "CHUNK", 3)
    monkeypatch.setattr(bulk_ingest, "BATCH", 5)
    monkeypatch.setattr(bulk_ingest, "AHEAD", 2)


def words(seed: int, count: int) -> str:
    """Text from a small vocabulary, so pairs and words repeat across briefs as in real ones."""
    return " ".join(random.Random(seed).choices(WORDS, k=count))


def brief(number: int, **changes: object) -> dict[str, object]:
    # Dates out of order in the archive, as in a backfill: the import stores oldest day first.
    return {
        "title": f"Brief {number}: {words(number, 4)}",
        "published": f"20{10 + number * 5 % 14}-0{1 + number % 9}-{1 + number * 3 % 28:02d}T08:00Z",
        "key": f"brief-{number}",
        "entity": ["Meta", "Mistral AI", "Café Labs"][number % 3],
        "topic": ["Models", "Chips"][number % 2],
        "category": "News" if number % 4 else "",
        "summary": f"{words(number + 1, 12)}, number {number}.",
        "sections": [
            {"heading": "What happened", "body": words(number + 2, 30)},
            {"heading": "Why it matters", "body": f"{words(number + 3, 20)} #{number}"},
        ],
        **changes,
    }


def archive_lines() -> list[str]:
    lines = [json.dumps(brief(n)) for n in range(23)]
    lines.insert(6, json.dumps(brief(2)))  # a repeat, unchanged
    lines.append(json.dumps(brief(4, summary="Rewritten: the chip price of meta.")))  # revised
    return lines


def stored_rows(connection: Connection) -> dict[str, dict[str, Any]]:
    rows = connection.execute(text("SELECT * FROM signals")).mappings()
    return {
        row["key"]: {name: value for name, value in row.items() if name not in STORING_ORDER}
        for row in rows
    }


def indexed_tokens(connection: Connection) -> set[tuple[str, int, str, str, int]]:
    """(key, published_day, token, column, position) of every token in the full-text index."""
    connection.execute(
        text("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, signals_fts, instance)")
    )
    key_of = {seq: key for seq, key in connection.execute(text("SELECT seq, key FROM signals"))}
    instances = connection.execute(text('SELECT doc, term, col, "offset" FROM temp.vocab'))
    return {
        (key_of[doc % 2**32], doc // 2**32, term, column, offset)
        for doc, term, column, offset in instances
    }


def store_one_by_one(url: str, archive: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    for item in stream_signals(archive, "ndjson"):
        assert item.signal is not None
        with transaction(sessions) as session:
            ingest(session, [item.signal.keyed("cli")], announce=True)
    engine.dispose()


@pytest.mark.parametrize("workers", ["0", pytest.param("1", marks=pytest.mark.slow)])
def test_an_archive_import_stores_and_indexes_what_storing_one_by_one_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, workers: str
) -> None:
    archive = tmp_path / "archive.ndjson"
    archive.write_text("\n".join(archive_lines()) + "\n", encoding="utf-8")
    one_by_one = f"sqlite:///{tmp_path / 'one_by_one.db'}"

    code, out, _ = run_cli(capsys, "ingest", str(archive), "--workers", workers)
    store_one_by_one(one_by_one, archive)

    assert code == 0
    assert "read 25: 23 new, 1 revised, 1 unchanged, 0 failed" in out
    with (
        create_engine(f"sqlite:///{tmp_path / 'bulk.db'}").connect() as bulk,
        create_engine(one_by_one).connect() as single,
    ):
        bulk_rows, single_rows = stored_rows(bulk), stored_rows(single)
        assert len(bulk_rows) == 23
        assert bulk_rows["brief-4"]["revision"] == 2
        assert bulk_rows == single_rows
        bulk_tokens = indexed_tokens(bulk)
        columns = {column for _, _, _, column, _ in bulk_tokens}
        assert columns == {"search_title", "search_facets", "search_impacts", "search_pairs"}
        assert bulk_tokens == indexed_tokens(single)


def test_a_row_handed_back_by_a_worker_gives_back_the_signal_it_was_made_from() -> None:
    signal = Signal(
        title="Meta ships Muse Spark",
        published=datetime(2026, 4, 8, 9, 30, tzinfo=timezone(timedelta(hours=2))),
        entity="Meta",
        topic="Models",
        summary="A new model.",
        sections=(Section("What happened", "It shipped."), Section("Why", "Because.")),
        url="https://example.com/muse",
    ).keyed("cli")
    row = new_row(signal)
    assert signal_of_row(row) == signal
    assert row_values(row) == new_row_values(signal)


def segment_count(connection: Connection) -> int:
    """Index segments (b-trees) in the full-text index: each has rows in FTS5's `_idx` table."""
    return int(connection.scalar(text("SELECT count(DISTINCT segid) FROM signals_fts_idx")) or 0)


def fts5_settings(connection: Connection) -> dict[str, int]:
    rows = connection.execute(text("SELECT k, v FROM signals_fts_config WHERE k != 'version'"))
    return {name: int(value) for name, value in rows}


def test_an_import_merges_its_index_segments_once_on_the_way_out_and_puts_settings_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five briefs a transaction: 25 new briefs leave five segments unless FTS5 merged them.
    archive = tmp_path / "archive.ndjson"
    archive.write_text("\n".join(json.dumps(brief(n)) for n in range(25)) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'bulk.db'}"
    segments_before_merge: list[int] = []
    merge = bulk_writes.merge_segments

    def counted_merge(sessions: Any) -> None:
        with create_engine(url).connect() as connection:
            segments_before_merge.append(segment_count(connection))
        merge(sessions)

    monkeypatch.setattr(bulk_writes, "merge_segments", counted_merge)

    code, out, _ = run_cli(capsys, "ingest", str(archive), "--workers", "0")

    assert code == 0
    assert "read 25: 25 new, 0 revised, 0 unchanged, 0 failed" in out
    assert segments_before_merge == [5]  # one per transaction that stored new briefs: no merging
    with create_engine(url).connect() as connection:
        assert segment_count(connection) == 1
        assert fts5_settings(connection) == bulk_writes.FTS5_DEFAULTS
        hits = connection.scalar(
            text("SELECT count(*) FROM signals_fts WHERE signals_fts MATCH 'search_title : brief'")
        )
    assert hits == 25


def test_merging_an_index_with_fewer_segments_than_automerge_merges_is_a_no_op(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'small.db'}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    for number in range(3):  # three transactions, three segments: below automerge's four
        with transaction(sessions) as session:
            ingest(session, [Signal(**signal_fields(number)).keyed("cli")], announce=False)
    with engine.connect() as connection:
        assert segment_count(connection) == 3

    bulk_writes.merge_segments(sessions)

    with engine.connect() as connection:
        assert segment_count(connection) == 3


def signal_fields(number: int) -> dict[str, Any]:
    return {
        "title": f"Brief {number}",
        "published": datetime(2026, 1, 1 + number, tzinfo=UTC),
        "summary": words(number, 10),
    }


def test_the_settings_a_killed_import_left_behind_are_put_back_at_the_next_start(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'killed.db'}")
    upgrade(engine)
    with engine.begin() as connection:  # what an import killed before its way out leaves
        for name, value in bulk_writes.DURING_IMPORT.items():
            connection.execute(
                text("INSERT INTO signals_fts(signals_fts, rank) VALUES (:name, :value)"),
                {"name": name, "value": value},
            )

    upgrade(engine)  # every signal-bot process starts with it (bot.app.build_services)

    with engine.connect() as connection:
        assert fts5_settings(connection) == bulk_writes.FTS5_DEFAULTS
