"""`signal-bot ingest` of archives: a JSON array, NDJSON and a folder, streamed; a bad item is
named by its line and skipped, the rest is stored, and the exit status says something failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEED, clear_slack_environment, run_cli

from bot.sources import stream
from bot.sources.stream import stream_array, stream_kind, stream_ndjson


@pytest.fixture(autouse=True)
def local_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    clear_slack_environment(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bulk.db'}")
    monkeypatch.setenv("SIGNAL_BOT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def signal_object(number: int, **changes: object) -> dict[str, object]:
    return {
        "title": f"Archive brief {number}",
        "published": f"2024-01-{1 + number % 28:02d}T00:00:00Z",
        "key": f"archive-{number}",
        "summary": f"Number {number} of the archive, about zephyrs.",
        "sections": [{"heading": "The News", "body": "Old news, kept for search."}],
        **changes,
    }


def test_ndjson_stores_every_good_line_and_names_the_bad_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = [json.dumps(signal_object(n)) for n in range(30)]
    lines[4] = '{"title": "no date"}'
    lines[9] = "{not json"
    lines.insert(12, "")  # blank lines are allowed
    archive = tmp_path / "archive.ndjson"
    archive.write_text("\n".join(lines) + "\n")

    code, out, err = run_cli(capsys, "ingest", str(archive))

    assert code == 1
    assert "read 30: 28 new, 0 revised, 0 unchanged, 2 failed" in out
    assert f"{archive}:5: published: Field required" in err
    assert f"{archive}:10: not JSON" in err
    search_code, found, _ = run_cli(capsys, "search", "zephyrs")
    assert search_code == 0
    assert "Archive brief" in found


def test_a_json_array_streams_in_small_windows_and_names_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "READ_CHUNK", 64)  # far smaller than one element
    items = [signal_object(n) for n in range(25)]
    items[7] = signal_object(7, url="ftp://nope")
    archive = tmp_path / "archive.json"
    archive.write_text("[\n" + ",\n".join(json.dumps(item, indent=1) for item in items) + "\n]\n")
    line_of_eighth = 2 + sum(json.dumps(item, indent=1).count("\n") + 1 for item in items[:7])

    code, out, err = run_cli(capsys, "ingest", str(archive))

    assert code == 1
    assert "read 25: 24 new, 0 revised, 0 unchanged, 1 failed" in out
    assert f"{archive}:{line_of_eighth}: url:" in err
    again, out_again, _ = run_cli(capsys, "ingest", str(archive))
    assert "0 new, 0 revised, 24 unchanged, 1 failed" in out_again
    assert again == 1


def test_a_broken_array_stores_what_came_before_and_says_where_it_broke(tmp_path: Path) -> None:
    archive = tmp_path / "broken.json"
    archive.write_text(json.dumps([signal_object(1)])[:-1] + ',\n{"title": oops}\n]')
    read = list(stream_array(archive))
    assert read[0].signal is not None
    assert read[1].where == f"{archive}:2"
    assert "not JSON" in read[1].error


def test_a_folder_is_read_file_by_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "briefs"
    folder.mkdir()
    (folder / "a.txt").write_text(SEED.read_text())
    (folder / "b.json").write_text(json.dumps([signal_object(1), signal_object(2)]))
    (folder / "c.txt").write_text("not a brief\n")

    code, out, err = run_cli(capsys, "ingest", str(folder))

    assert code == 1
    assert "read 4: 3 new, 0 revised, 0 unchanged, 1 failed" in out
    assert "c.txt" in err


def test_a_broken_second_line_is_a_bad_ndjson_line_not_a_broken_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever the name, a whole object on the first line with more after it is NDJSON; a
    `.ndjson` or `.jsonl` name is NDJSON even when its first line is the broken one."""
    unnamed, named = tmp_path / "archive", tmp_path / "archive.jsonl"
    good = [json.dumps(signal_object(n)) for n in (1, 2)]
    unnamed.write_text(f"{good[0]}\nnot json\n{good[1]}\n")
    named.write_text(f"not json\n{good[0]}\n{good[1]}\n")
    assert [stream_kind(path) for path in (unnamed, named)] == ["ndjson", "ndjson"]

    code, out, err = run_cli(capsys, "ingest", str(unnamed))
    assert code == 1
    assert "read 3: 2 new, 0 revised, 0 unchanged, 1 failed" in out
    assert f"{unnamed}:2" in err

    code, out, err = run_cli(capsys, "ingest", str(named))
    assert code == 1
    assert "read 3: 0 new, 0 revised, 2 unchanged, 1 failed" in out
    assert f"{named}:1" in err


def test_formats_are_told_by_their_first_objects(tmp_path: Path) -> None:
    ndjson, array, single = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    ndjson.write_text(json.dumps(signal_object(1)) + "\n" + json.dumps(signal_object(2)) + "\n")
    array.write_text(json.dumps([signal_object(1)]))
    single.write_text(json.dumps(signal_object(1), indent=2))
    assert [stream_kind(path) for path in (ndjson, array, single, tmp_path)] == [
        "ndjson",
        "array",
        "document",
        "folder",
    ]
    assert [item.where for item in stream_ndjson(ndjson)] == [f"{ndjson}:1", f"{ndjson}:2"]
