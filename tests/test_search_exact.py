"""The ranking's promises, on SQLite and PostgreSQL, with planted briefs stored in shuffled order:
the exact top of the declared function over every match, however old the best brief is, and
pages as deep as there are matches. Each database is checked against the exhaustive scorer."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date

import pytest
from search_corpus import DAY, brief, stored_corpus_fixture
from search_reference import reference_ranking
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.search import parse_query, search
from bot.search import ranked as ranked_module
from bot.signal import Section, Signal
from bot.store.db import transaction
from bot.store.models import StoredSignal

TODAY = date(2026, 4, 24)
MENTIONS = 260  # more than ranked.FEW: the class-by-class walk answers
OLD_TITLE = "Muse Spark: Meta's closed model, three years on"


def planted() -> list[Signal]:
    """Hundreds of new briefs that mention the words once in a section, one old title match,
    a few that mention them in the summary, all stored in a shuffled order."""
    rng = random.Random(11)
    briefs = [
        brief(
            f"Weekly digest {number}",
            rng.randrange(0, 60),
            summary="Other news of the week.",
            body=f"Item {number}: a muse spark demo was shown, among {rng.randrange(99)} others.",
        )
        for number in range(MENTIONS)
    ]
    long_summary = "A muse spark note. " + "Other words fill a long summary here. " * 8
    briefs += [
        brief(f"Ignition notes {n}", rng.randrange(0, 400), summary=long_summary) for n in range(12)
    ]
    briefs.append(brief(OLD_TITLE, 3 * 365, summary="A look back.", entity="Meta"))
    briefs += [
        brief(f"Unrelated {n}", rng.randrange(0, 900), summary="Nothing here.") for n in range(40)
    ]
    rng.shuffle(briefs)
    return briefs


sessions = stored_corpus_fixture(planted)


def page_titles(sessions: sessionmaker[Session], text: str, offset: int = 0) -> list[str]:
    with transaction(sessions) as session:
        page = search(session, parse_query(text), limit=5, offset=offset, today=TODAY)
    return [hit.signal.title for hit in page.hits]


def reference_titles(sessions: sessionmaker[Session], text: str) -> list[str]:
    with transaction(sessions) as session:
        ranked = reference_ranking(session, parse_query(text), TODAY)
        rows = session.execute(select(StoredSignal.seq, StoredSignal.title))
        titles = {seq: title for seq, title in rows}
    return [titles[scored.seq] for scored in ranked]


def test_an_old_title_match_comes_first_among_hundreds_of_newer_mentions(
    sessions: sessionmaker[Session],
) -> None:
    assert page_titles(sessions, "muse spark")[0] == OLD_TITLE
    assert page_titles(sessions, '"muse spark"')[0] == OLD_TITLE
    assert page_titles(sessions, "muse spar*")[0] == OLD_TITLE


def test_summary_mentions_come_before_section_mentions(sessions: sessionmaker[Session]) -> None:
    second_to_sixth = page_titles(sessions, "muse spark")[1:] + page_titles(
        sessions, "muse spark", 5
    )
    assert all(title.startswith("Ignition notes") for title in second_to_sixth)


@pytest.mark.parametrize("query", ["muse spark", '"muse spark"', "demo", "spark -keyword:ignition"])
def test_every_page_is_the_exhaustive_scorers_down_to_the_last_match(
    sessions: sessionmaker[Session], query: str
) -> None:
    expected = reference_titles(sessions, query)
    assert len(expected) >= MENTIONS
    paged = [
        title
        for offset in range(0, len(expected) + 5, 5)
        for title in page_titles(sessions, query, offset)
    ]
    assert paged == expected


@pytest.mark.parametrize("few", [0, 3, 10_000])
def test_both_paths_give_the_same_exact_answer(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    """Scoring every match and walking the classes are two ways to the same top."""
    monkeypatch.setattr(ranked_module, "FEW", few)
    for query in ("muse spark", "weekly demo", '"muse spark" demo', "spark since:2026-03-01"):
        assert (
            page_titles(sessions, query, 0) + page_titles(sessions, query, 5)
            == (reference_titles(sessions, query)[:10])
        )


def test_the_count_is_exact_up_to_few_then_a_floor(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        common = search(session, parse_query("muse spark"), today=TODAY)
        rare = search(session, parse_query("ignition"), today=TODAY)
    assert (common.total, common.more_than_total) == (ranked_module.FEW, True)
    assert (rare.total, rare.more_than_total) == (12, False)


def test_the_day_orders_the_index_not_storage(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        rows = session.execute(select(StoredSignal.seq, StoredSignal.published)).all()
    by_storage = [published for _, published in sorted(rows)]
    assert by_storage != sorted(by_storage)  # the planted briefs really are shuffled
    assert DAY.date() < TODAY


# --- phrases of common words that are rarely in that order -----------------------------------

PHRASE_TITLE = "A model of the data, ten years on"
RUN_ON = "Pipelines, run on"
ACROSS_TITLE = "Notes on a model of the"


def planted_phrases() -> list[Signal]:
    """Hundreds of briefs holding every pair of `model of the data` apart, a few with the phrase
    (an old title, bodies, one running on from the summary into a section), and one whose title
    ends where the body goes on (title and body do not run on)."""
    rng = random.Random(12)
    apart = "The data of the model grew; a model of record and the data team met."
    briefs = [
        brief(f"Weekly notes {n}", rng.randrange(0, 90), summary=apart, body=f"Item {n}.")
        for n in range(MENTIONS)
    ]
    briefs += [
        brief(f"Found {n}", rng.randrange(0, 400), body="We need a model of the data first.")
        for n in range(3)
    ]
    briefs.append(brief(PHRASE_TITLE, 4 * 365, summary="A look back."))
    run_on = brief(RUN_ON, 30, summary="We built a model of the")
    briefs.append(replace(run_on, sections=(Section("Data pipelines", "Again."),)))
    briefs.append(brief(ACROSS_TITLE, 5, summary="Data was late."))
    briefs.append(brief("Schema", 9, body="A model of the database layer."))
    briefs += [
        brief(f"Language {n}", rng.randrange(0, 90), body="Language is large; so is a large lake.")
        for n in range(MENTIONS // 2)
    ]
    briefs += [
        brief("Large language models, again", 700),
        brief("Primates", 20, body="The large langur of the hills."),
        brief("LLMs", 2, body="A large language model, and another large language model."),
    ]
    rng.shuffle(briefs)
    return briefs


PHRASES = (
    '"model of the data"', '"a model of the data"', "model-of-the-da*", '"the model"',
    '"of the"', "large-lang*", '"large language model"', '"model of the data" weekly',
    '"model of the data" found', '"data of the" "model of"',
)  # fmt: skip


phrase_sessions = stored_corpus_fixture(planted_phrases, name="phrase_sessions")


def test_a_phrase_of_common_words_finds_exactly_its_briefs(
    phrase_sessions: sessionmaker[Session],
) -> None:
    titles = page_titles(phrase_sessions, '"model of the data"', 0)
    titles += page_titles(phrase_sessions, '"model of the data"', 5)
    assert titles[0] == PHRASE_TITLE  # the title's level beats any body's, whatever the age
    assert sorted(titles[1:]) == sorted([RUN_ON, "Found 0", "Found 1", "Found 2"])
    assert ACROSS_TITLE not in titles  # the title does not run on into the body
    # A phrase whose last word is a prefix: written as words the tokenizer splits.
    prefixed = page_titles(phrase_sessions, "model-of-the-da*", 0)
    prefixed += page_titles(phrase_sessions, "model-of-the-da*", 5)
    assert sorted(prefixed) == sorted([*titles, "Schema"])  # `database` too


@pytest.mark.parametrize("few", [0, 200])
@pytest.mark.parametrize("query", PHRASES)
def test_every_phrase_page_is_the_exhaustive_scorers(
    phrase_sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, query: str, few: int
) -> None:
    monkeypatch.setattr(ranked_module, "FEW", few)
    expected = reference_titles(phrase_sessions, query)
    paged = [
        title
        for offset in range(0, min(len(expected), 40) + 5, 5)
        for title in page_titles(phrase_sessions, query, offset)
    ]
    assert paged == expected[: len(paged)]
    assert len(paged) == min(len(expected), 45)
