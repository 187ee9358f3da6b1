"""Text UTF-8 cannot hold (a lone surrogate such as U+D800, which a JSON escape, a feed's
character reference or a non-UTF-8 file name can bring in) is stored with U+FFFD in its place,
through every real ingest path, on both databases; nothing crashes and no other brief is held up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import clear_slack_environment, run_cli
from feed_server import FeedServer, Route, rss
from sqlalchemy import create_engine, select

from bot.app import Services
from bot.config import SourceConfig
from bot.signal import valid_text
from bot.sources import poll_source
from bot.sources.brief_format import parse_brief
from bot.sources.http import Fetcher
from bot.store.db import transaction
from bot.store.models import SourceFile, StoredSignal

AUTH = {"Authorization": "Bearer push-secret"}  # conftest's settings
SEED = Path(__file__).parent / "fixtures" / "briefs" / "seed_meta_muse_spark.txt"


def titles(services: Services, source: str) -> dict[str, str]:
    with transaction(services.sessions) as session:
        rows = session.scalars(select(StoredSignal).where(StoredSignal.source == source))
        return {row.key: row.title for row in rows}


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def test_lone_surrogates_become_replacement_characters() -> None:
    assert valid_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert valid_text("fine \u2019 text") == "fine \u2019 text"


def test_a_text_brief_decoded_with_surrogateescape_is_read_with_replacement_characters() -> None:
    text = (
        SEED.read_bytes().replace(b"Muse Spark", b"Muse \xffSpark").decode(errors="surrogateescape")
    )

    brief = parse_brief(text, file="odd.txt").keyed("optyx")

    assert "Muse \ufffdSpark" in brief.title
    assert len(brief.content_hash) == 64, "the hash no longer raises"


def test_a_pushed_brief_with_a_lone_surrogate_is_stored(services: Services, web_url: str) -> None:
    body = json.dumps(
        [
            {"title": "Half an emoji \ud83d", "published": "2026-04-23", "key": "half"},
            {"title": "Whole", "published": "2026-04-23", "key": "whole", "topic": "AI \udfff"},
        ]
    )
    response = httpx.post(f"{web_url}/signals", content=body, headers=AUTH, timeout=10)

    assert response.status_code in (201, 202), response.text
    assert titles(services, "push") == {"half": "Half an emoji \ufffd", "whole": "Whole"}


def test_a_feed_with_surrogate_references_and_a_json_feed_with_surrogates_are_stored(
    services: Services, feed_server: FeedServer
) -> None:
    broken = rss(("a", "Alpha &#xD800; one"), ("b", "Beta &#56320; two"), ("c", "Gamma &#x2019;"))
    feed_server.route("/feed", Route(broken, content_type="application/rss+xml"))
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Loopback",
        "items": [
            {
                "id": "j1",
                "title": "Cut \ud83d",
                "content_text": "x",
                "date_published": "2026-04-23",
            },
            {"title": "No id, no date \udfff", "content_text": "body \ud800"},
        ],
    }
    feed_server.route(
        "/feed.json",
        Route(json.dumps(json_feed).encode(), content_type="application/feed+json"),
    )
    fetcher = Fetcher()
    try:
        for name, path in (("xml", "/feed"), ("jsonfeed", "/feed.json")):
            source = SourceConfig(name=name, kind="feed", url=feed_server.url(path), interval="5m")
            report = poll_source(services.sessions, source, fetcher=fetcher)
            assert not report.errors, report.errors
    finally:
        fetcher.close()

    assert titles(services, "xml") == {
        "a": "Alpha \ufffd one",
        "b": "Beta \ufffd two",
        "c": "Gamma \u2019",
    }
    assert sorted(titles(services, "jsonfeed").values()) == ["Cut \ufffd", "No id, no date \ufffd"]


def test_a_folder_with_a_non_utf8_file_name_stores_the_rest_and_names_the_file(
    services: Services, signals_dir: Path
) -> None:
    folder = os.fsencode(signals_dir)
    bad_name = folder + b"/broken-\xff.txt"
    with open(bad_name, "wb") as broken:
        broken.write(b"not a brief at all")
    with open(folder + b"/good-\xfe.json", "wb") as good:
        good.write(b'{"title": "Named oddly \\ud800", "published": "2026-04-23", "key": "odd"}')
    (signals_dir / "seed.txt").write_bytes(SEED.read_bytes())
    source = SourceConfig(name="folder", kind="folder", path=signals_dir, interval="1m")

    first = poll_source(services.sessions, source)
    again = poll_source(services.sessions, source)

    assert not first.skipped
    stored = titles(services, "folder")
    assert stored["odd"] == "Named oddly \ufffd"
    assert len(stored) == 2, "the seed brief is stored beside it"
    shown = f"{signals_dir}/broken-\\xff.txt"
    assert [error for error in first.errors if error.startswith(f"{shown}:1: ")], first.errors
    assert again.items_seen == 0, "the odd names are remembered: nothing is read twice"
    with transaction(services.sessions) as session:
        paths = set(session.scalars(select(SourceFile.path)))
    assert paths == {shown, f"{signals_dir}/good-\\xfe.json", str(signals_dir / "seed.txt")}


def test_an_archive_with_lone_surrogates_is_stored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_slack_environment(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bulk.db'}")
    monkeypatch.setenv("SIGNAL_BOT_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    lines = [
        json.dumps({"title": f"Line {n} \ud800", "published": "2026-04-23", "key": f"n{n}"})
        for n in range(3)
    ]
    archive = tmp_path / "archive.ndjson"
    archive.write_text("\n".join(lines) + "\n")

    code, out, err = run_cli(capsys, "ingest", str(archive), "--source", "archive-\udcff")

    assert code == 0, err
    assert "read 3: 3 new, 0 revised, 0 unchanged, 0 failed" in out
    search_code, found, _ = run_cli(capsys, "search", "line")
    assert search_code == 0
    assert "Line 0 \ufffd" in found
    engine = create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    with engine.connect() as connection:
        sources = set(connection.scalars(select(StoredSignal.source)))
    engine.dispose()
    assert sources == {"archive-\ufffd"}
