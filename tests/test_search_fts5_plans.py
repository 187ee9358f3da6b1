"""SQLite's faster ways to a term (bot.search.backends.sqlite_match) find exactly what the
declared function does: a prefix spelled out as the tokens it starts, and a long phrase found
through its rare pairs NEAR each other, then checked brief by brief.

Planted briefs hold what a superset could let through or a spelling-out could miss: the rare
pairs of a phrase in the wrong order or apart, the phrase running on from the summary into a
section, in the title and the body at once; words a prefix starts with digits after it, only in
titles, only in bodies, at every level, and an entity whose facet token could look alike.
Both databases are compared with the exhaustive scorer (PostgreSQL takes its own ways)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from search_corpus import brief, migrated_fts5_table, stored_corpus_fixture
from search_reference import reference_seqs
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.search import parse_query, search
from bot.search import ranked as ranked_module
from bot.search.backends import Constraints, TermAt
from bot.search.backends import sqlite_vocabulary as vocabulary_module
from bot.search.backends.sqlite import SqliteIndex, holds
from bot.search.backends.sqlite_match import DENSE, MatchPlanner, _runs
from bot.search.document import impacts, pair_tokens, pairs
from bot.search.grammar import TextTerm, text_terms
from bot.search.rank import BODY_LEVEL, TITLE_LEVEL, occurs
from bot.search.tokens import document
from bot.signal import Section, Signal
from bot.store.db import transaction
from bot.store.models import StoredSignal

TODAY = date(2026, 4, 24)
FILLER = 300  # briefs holding `of the`: a common pair; `model of`, `the data` stay rare
PHRASE_TITLE = "A model of the data, ten years on"
BOTH = "Model of the data"
RUN_ON = "Pipelines, run on"


def planted() -> list[Signal]:
    rng = random.Random(13)
    briefs = [
        brief(
            f"Weekly notes {n}",
            rng.randrange(0, 60),
            summary="Most of the news came late; the rest of the week was calm.",
            body=f"Item {n}.",
        )
        for n in range(FILLER)
    ]
    briefs += [
        brief(f"Found {n}", rng.randrange(0, 400), body="We need a model of the data first.")
        for n in range(3)
    ]
    briefs += [
        brief(PHRASE_TITLE, 4 * 365, summary="A look back."),
        brief(BOTH, 3, body="Again a model of the data, in the body too."),
        brief("Comma", 8, body="A model of, the data: punctuation is not a token."),
        brief("Reversed", 2, body="The data model of record was late."),  # rare pairs one apart
        brief("Apart", 4, body="A model of the the data."),  # rare pairs two apart
        brief("Other", 6, body="A model of data, the data."),
        brief("Notes on a model of the", 5, summary="Data was late."),  # titles do not run on
    ]
    run_on = brief(RUN_ON, 30, summary="We built a model of the")
    briefs.append(replace(run_on, sections=(Section("Data pipelines", "Again."),)))
    briefs += [
        brief("Ransom notes", 1, summary="A ransom was paid."),
        brief("Ransomware gangs", 200, body="Ransomware gangs struck; ransomware spread."),
        brief("Quiet week", 9, body="One ransomware mention."),
        brief("Ransoms", 40, summary="Ransoms paid in 2024 and ransom2024 notes."),
        brief("Only the body", 15, body="The firm was ransomed, then ransomware-gangbusters came."),
        brief("Labs", 20, entity="Ransom Labs", summary="A lab."),
        brief("Random range", 11, body="A random range of ranks."),
    ]
    rng.shuffle(briefs)
    return briefs


PHRASES = (
    '"model of the data"', '"a model of the data"', '"model of the data" found',
    '"model of the data" keyword:need', '"model of the data" since:2026-04-01', '"of the data"',
    '"model of the"', '"model of the data" again', 'again "model of the data" -keyword:first',
    '"model of the data" "a model of"', '"model of the data" ransom*',
)  # fmt: skip
PREFIXES = (
    "ransom*", "ransomw*", "rans*", "ran*", "ransomware-ga*", "ransomware-gang*", "ransom* paid",
    'ransom* entity:"ransom labs"', "e72616*", "zzzz*",
)  # fmt: skip


sessions = stored_corpus_fixture(planted)


def found_seqs(sessions: sessionmaker[Session], text: str, offset: int, limit: int) -> list[int]:
    with transaction(sessions) as session:
        page = search(session, parse_query(text), limit=limit, offset=offset, today=TODAY)
        ids = [hit.signal.id for hit in page.hits]
        seqs = {sid: seq for sid, seq in session.execute(select(StoredSignal.id, StoredSignal.seq))}
    return [seqs[signal_id] for signal_id in ids]


@pytest.mark.parametrize("few", [0, 200])
@pytest.mark.parametrize("query", PHRASES + PREFIXES)
def test_every_page_is_the_exhaustive_scorers(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, query: str, few: int
) -> None:
    monkeypatch.setattr(ranked_module, "FEW", few)
    with transaction(sessions) as session:
        expected = reference_seqs(session, parse_query(query), TODAY, 100)
    paged = [seq for offset in range(0, 40, 5) for seq in found_seqs(sessions, query, offset, 5)]
    assert paged == expected[:40]


def test_a_prefix_spelled_out_or_not_finds_the_same(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    spelled_out = {query: found_seqs(sessions, query, 0, 20) for query in PREFIXES}
    monkeypatch.setattr(vocabulary_module, "MAX_EXPANSION", 1)  # too many: FTS5's own prefix
    assert {query: found_seqs(sessions, query, 0, 20) for query in PREFIXES} == spelled_out


def test_the_phrase_count_is_exact(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        page = search(session, parse_query('"model of the data"'), limit=10, today=TODAY)
    assert (page.total, page.more_than_total) == (7, False)
    assert {hit.signal.title for hit in page.hits} == {
        PHRASE_TITLE, BOTH, RUN_ON, "Comma", "Found 0", "Found 1", "Found 2"
    }  # fmt: skip


def sqlite_plans(sessions: sessionmaker[Session], text: str) -> list[str]:
    with transaction(sessions) as session:
        planner = SqliteIndex(session, Constraints()).planner
        matches = [planner.match(TermAt(term)) for term in text_terms(parse_query(text))]
    return [f"{match.expression} checked={match.checked}" for match in matches]


@pytest.mark.parametrize("sessions", ["sqlite"], indirect=True)  # PostgreSQL has its own ways
def test_the_tested_ways_are_the_fast_ones(sessions: sessionmaker[Session]) -> None:
    """The planted corpus does take the new ways (else the tests above would prove nothing)."""
    assert sqlite_plans(sessions, '"model of the data"') == [
        '({search_title} : "model of the data") OR '
        '({search_pairs} : NEAR("__model_of" "__the_data", 1)) checked=True'
    ]
    assert sqlite_plans(sessions, '"a model of the data"') == [
        '({search_title} : "a model of the data") OR '
        '({search_pairs} : NEAR("__a_model __model_of" "__the_data", 1)) checked=True'
    ]
    assert sqlite_plans(sessions, "ransom*") == [  # each word at the levels some brief has
        '{search_impacts} : ("ransom2024_7" OR "ransom_7" OR "ransom_8" OR "ransomed_5" OR '
        '"ransoms_8" OR "ransomware_5" OR "ransomware_8") checked=False'
    ]
    assert sqlite_plans(sessions, "ran*") == ['{search_impacts} : "ran" * checked=False']
    assert sqlite_plans(sessions, "zzzz*") == ["None checked=False"]


def test_a_prefix_after_a_rolled_back_transaction_still_finds_its_tokens(
    sessions: sessionmaker[Session],
) -> None:
    """The tokens' table is a temp table: made inside a transaction rolled back, it is gone,
    and the next search on the same connection makes it again."""
    expected = found_seqs(sessions, "ransom*", 0, 20)
    one_connection = create_engine(sessions.kw["bind"].url, poolclass=StaticPool)
    same_connection = sessionmaker(one_connection)
    for _ in range(2):
        session = same_connection()
        session.execute(update(StoredSignal).where(StoredSignal.seq == -1).values(revision=1))
        search(session, parse_query("ransomw*"), today=TODAY)  # the first use of the table
        session.rollback()
        session.close()
        assert found_seqs(same_connection, "ransom*", 0, 20) == expected
    one_connection.dispose()


# --- the NEAR of rare pairs, against positions, for any phrase and any common pairs -----------

WORDS = ("a", "model", "of", "the", "data", "x")
bodies = st.lists(st.sampled_from(WORDS), max_size=14).map(" ".join)


class Facts:
    """Token facts for the planner: densities as the test says, tokens from an fts5vocab."""

    def __init__(self, connection: sqlite3.Connection, common: set[str]) -> None:
        self.connection, self.common = connection, common

    def tokens_starting(self, start: str) -> list[str] | None:
        rows = self.connection.execute(
            "SELECT DISTINCT term FROM temp.tokens WHERE term >= ? AND term < ? ORDER BY term",
            (start, start + "\x7f"),
        )
        return [term for (term,) in rows]

    def densities(self, column: str, tokens: Sequence[str]) -> list[float]:
        return [DENSE if token in self.common else 0.0 for token in tokens]


FTS5_TABLE = migrated_fts5_table()


def fts5_table() -> sqlite3.Connection:
    """An empty FTS5 table made as the migrations make it, with its tokens' table."""
    connection = sqlite3.connect(":memory:")
    connection.execute(FTS5_TABLE)
    connection.execute(
        "CREATE VIRTUAL TABLE temp.tokens USING fts5vocab(main, signals_fts, instance)"
    )
    return connection


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(st.tuples(bodies, bodies, bodies), min_size=1, max_size=8),
    phrase=st.lists(st.sampled_from(WORDS), min_size=2, max_size=6),
    common=st.sets(st.integers(0, 4)),
)
def test_rare_pairs_near_each_other_hold_every_brief_with_the_phrase(
    texts: list[tuple[str, str, str]], phrase: list[str], common: set[int]
) -> None:
    connection = fts5_table()
    documents = []
    for rowid, (title, summary, sections) in enumerate(texts, start=1):
        body = document(["", "", "", summary, sections])
        documents.append((rowid, document([title]), body))
    connection.executemany(
        "INSERT INTO signals_fts (rowid, search_title, search_impacts, search_pairs) "
        "VALUES (?, ?, ?, ?)",
        [(rowid, title, impacts(title, body), pairs(body)) for rowid, title, body in documents],
    )
    term = TextTerm(tuple(phrase))
    common_pairs = {pair for at, pair in enumerate(pair_tokens(phrase)) if at in common}
    planner = MatchPlanner(Facts(connection, common_pairs))
    for level in (None, TITLE_LEVEL, BODY_LEVEL):
        match = planner.match(TermAt(term, level))
        assert match.expression is not None
        candidates = {
            rowid
            for (rowid,) in connection.execute(
                "SELECT rowid FROM signals_fts WHERE signals_fts MATCH ?", (match.expression,)
            )
        }
        expected = {
            rowid for rowid, title, body in documents if holds(TermAt(term, level), title, body)
        }
        assert expected <= candidates, match.expression
        if not match.checked:
            assert candidates == expected, match.expression
    body_match = planner.match(TermAt(term, BODY_LEVEL))
    rare = [at for at, pair in enumerate(pair_tokens(phrase)) if pair not in common_pairs]
    covers = all(at in rare or at - 1 in rare for at in range(len(phrase)))
    assert body_match.checked == (len(phrase) >= 4 and covers and len(rare) < len(phrase) - 1)
    assert occurs(term, " ".join(phrase))  # the phrase itself is what is looked for


def test_runs() -> None:
    assert _runs([]) == []
    assert _runs([0, 1, 3, 5, 6, 7]) == [(0, 2), (3, 1), (5, 3)]
