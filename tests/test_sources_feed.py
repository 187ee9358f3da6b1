"""Reading feeds into signals: the real-world corpus, entry mapping and its fallbacks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.render import Renderer
from bot.sources.document import ParsedItem
from bot.sources.feed import parse_feed
from bot.sources.feed_entries import EntryFields, entry_to_item, parse_date_text
from bot.sources.html_text import html_to_text, lede

# Real publishers' feeds, byte-exact (provenance in SOURCES.md beside them).
CORPUS = Path(__file__).resolve().parent / "fixtures" / "feeds"
CORPUS_FILES = sorted(p for p in CORPUS.glob("*") if p.suffix in {".xml", ".json"})
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# Entries each file must yield (SOURCES.md's feedparser check, plus JSON Feed items).
EXPECTED_ENTRIES = {
    "atom-arxiv-cs-ai.xml": 87,
    "atom-github-commits-huginn.xml": 20,
    "atom-google-alerts.xml": 20,
    "atom-qemu-relative-links.xml": 10,
    "atom-reddit-homelab-mediarss.xml": 25,
    "atom-youtube-secdsm-channel.xml": 15,
    "jsonfeed-1.1-lukedorny-escaped-slashes.json": 30,
    "jsonfeed-daringfireball.json": 48,
    "rss1-golem-iso8859-1.xml": 1,
    "rss1-science-magazine-twis.xml": 69,
    "rss2-bbc-in-our-time-podcast.xml": 1,
    "rss2-dbengines-blog-undefined-html-entity.xml": 1,
    "rss2-donthitsave-utf8-bom.xml": 10,
    "rss2-guardian-us-news.xml": 55,
    "rss2-hacker-news-frontpage.xml": 30,
    "rss2-kc0011-gb2312.xml": 20,
    "rss2-techcrunch-feedburner-leading-newline.xml": 20,
    "rss2-uol-noticias-latin1-no-xml-decl.xml": 15,
    "rss2-vulncheck-kev.xml": 10,
}
REJECTED = {"rss2-reuters-most-read-server-error.xml": "broken feed, no entry readable"}


def read(name: str, url: str | None = None) -> list[ParsedItem]:
    document = parse_feed((CORPUS / name).read_bytes(), first_seen=NOW, url=url, file=name)
    return list(document.items)


def test_the_corpus_is_all_accounted_for() -> None:
    assert {p.name for p in CORPUS_FILES} == set(EXPECTED_ENTRIES) | set(REJECTED)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_every_corpus_feed_ingests_or_is_rejected_with_a_clear_error(path: Path) -> None:
    if path.name in REJECTED:
        with pytest.raises(ParseError) as raised:
            read(path.name)
        assert REJECTED[path.name] in str(raised.value)
        assert str(raised.value).startswith(f"{path.name}:")
        return
    items = read(path.name, url="https://publisher.example/feed")
    assert len(items) == EXPECTED_ENTRIES[path.name]
    keys = [item.signal.effective_key for item in items]
    assert len(set(keys)) == len(keys), "every entry has its own key"
    for item in items:
        signal = item.signal
        assert signal.title.strip()
        assert signal.published.tzinfo is not None
        assert signal.published.utcoffset() == UTC.utcoffset(None)
        assert signal.url is None or signal.url.startswith(("http://", "https://"))
        assert "<p>" not in signal.summary
        assert "<br" not in signal.summary
        assert "<b>" not in signal.title


def test_entries_without_guid_are_keyed_by_link() -> None:
    first = read("rss2-hacker-news-frontpage.xml")[0].signal
    assert first.key == first.url
    assert first.key.startswith("https://aws.amazon.com/")


def test_ids_win_over_links() -> None:
    first = read("atom-youtube-secdsm-channel.xml")[0].signal
    assert first.key == "yt:video:OCs1E0vP7Oc"


def test_google_alert_links_are_unwrapped_and_html_titles_cleaned() -> None:
    first = read("atom-google-alerts.xml")[0].signal
    assert first.url is not None
    assert first.url.startswith("https://www.aglobalmarketresearch.com/")
    assert first.title.startswith("Report offers Prediction of Automotive Slack Market")


def test_relative_links_resolve_against_the_feed_url() -> None:
    first = read("atom-qemu-relative-links.xml", url="https://www.qemu.org/feed.xml")[0].signal
    assert first.url == "https://www.qemu.org/2025/08/26/qemu-10-1-0/"


def test_dates_feedparser_misreads_or_cannot_read_are_read() -> None:
    chinese = read("rss2-kc0011-gb2312.xml")[0]
    portuguese = read("rss2-uol-noticias-latin1-no-xml-decl.xml")[0]
    assert chinese.signal.published == datetime(2020, 1, 10, 14, 33, tzinfo=UTC)
    assert portuguese.dated
    assert portuguese.signal.published == datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)


def test_updated_stands_in_for_a_missing_published_date() -> None:
    commit = read("atom-github-commits-huginn.xml")[0]
    assert commit.dated
    assert commit.signal.published == datetime(2014, 7, 17, 5, 26, 22, tzinfo=UTC)


def test_encodings_come_out_as_text() -> None:
    assert "Glasfaserförderung" in read("rss1-golem-iso8859-1.xml")[0].signal.title
    assert "建国35周年纪念" in read("rss2-kc0011-gb2312.xml")[0].signal.title
    assert "simulações" in read("rss2-uol-noticias-latin1-no-xml-decl.xml")[0].signal.title


def test_categories_become_the_category_and_json_feed_tags_too() -> None:
    assert read("atom-arxiv-cs-ai.xml")[0].signal.category == "cs.AI"
    assert read("jsonfeed-1.1-lukedorny-escaped-slashes.json")[0].signal.category == "Design"


def test_recovered_malformed_feeds_carry_a_warning() -> None:
    body = (CORPUS / "rss2-techcrunch-feedburner-leading-newline.xml").read_bytes()
    document = parse_feed(body, first_seen=NOW)
    assert document.count == 20
    assert "20 entries recovered" in document.warnings[0]


def test_an_entry_with_nothing_but_text_still_makes_a_sensible_signal() -> None:
    item = entry_to_item(
        EntryFields(summary="<p>Only a body &amp; no title.</p>"), base_url=None, first_seen=NOW
    )
    assert not item.dated
    assert item.signal.published == NOW
    assert item.signal.title == "Only a body & no title."
    assert item.signal.key.startswith("sha256:")
    again = entry_to_item(
        EntryFields(summary="<p>Only a body &amp; no title.</p>"),
        base_url=None,
        first_seen=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert again.signal.key == item.signal.key, "the key of an undated entry ignores the clock"


def test_an_empty_entry_is_untitled_not_an_error() -> None:
    item = entry_to_item(EntryFields(), base_url=None, first_seen=NOW)
    assert item.signal.title == "Untitled"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty document"),
        (b"\x00\x01\x02 garbage \xff\xfe", "not an RSS, Atom or JSON feed"),
        (b"<html><body><p>Not a feed</p></body></html>", "not an RSS, Atom or JSON feed"),
        (b'{"not": "a feed"}', "not a JSON Feed"),
        (b"[1, 2, 3]", "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}', "without an `items` list"),
        (b'{"version": ', "invalid JSON"),
    ],
    ids=["empty", "binary", "html", "json-object", "json-list", "json-feed-bad-items", "cut-json"],
)
def test_garbage_is_rejected_with_a_clear_error(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as raised:
        list(parse_feed(body, first_seen=NOW, file="x").items)
    assert str(raised.value).startswith("x:")
    assert reason in str(raised.value)
    assert len(str(raised.value).splitlines()) == 1


def test_a_cut_off_feed_gives_what_it_has() -> None:
    (item,) = parse_feed(b"<rss><channel><item><title>unterminated", first_seen=NOW).items
    assert item.signal.title == "Untitled"


def test_hostile_markup_stays_text_for_the_renderer_to_escape() -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [
            {
                "id": "1",
                "title": "<!channel> alert",
                "content_html": "<p>Hi &lt;@U0BOSS&gt; <script>steal()</script></p>",
                "date_published": "2026-04-23T09:30:00+02:00",
            }
        ],
    }
    (item,) = parse_feed(json.dumps(feed).encode(), first_seen=NOW).items
    assert item.signal.title == "<!channel> alert"
    assert item.signal.summary == "Hi <@U0BOSS>"
    assert item.signal.published == datetime(2026, 4, 23, 7, 30, tzinfo=UTC)
    message = Renderer().render_signal(item.signal.keyed("news"))
    posted = json.dumps([message.text, message.blocks])
    assert "<!channel>" not in posted
    assert "<@U0BOSS>" not in posted
    assert "&lt;!channel&gt;" in posted


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-04-23T09:30:00Z", datetime(2026, 4, 23, 9, 30, tzinfo=UTC)),
        ("Wed, 6 Apr 2022 21:07:47 +0000", datetime(2022, 4, 6, 21, 7, 47, tzinfo=UTC)),
        ("Seg, 24 Set 2018 19:42:40 -0300", datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),
        ("Di, 03 Dez 2024 08:00:00 +0100", datetime(2024, 12, 3, 7, 0, tzinfo=UTC)),
        ("2020/1/10 14:33:00", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),
        ("2020/13/45", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_date_text(text: str, expected: datetime | None) -> None:
    assert parse_date_text(text) == expected


def test_html_to_text_keeps_paragraphs_and_drops_markup() -> None:
    html = "<p>One &amp; two</p><ul><li>a</li><li>b</li></ul><script>x()</script><p>Three</p>"
    assert html_to_text(html) == "One & two\n\n  * a\n  * b\n\nThree"
    assert html_to_text("plain, no markup") == "plain, no markup"


def test_lede_cuts_long_text_at_a_sentence() -> None:
    text = "First sentence here. " * 50
    cut = lede(text, 200)
    assert len(cut) <= 200
    assert cut.endswith(". …")
