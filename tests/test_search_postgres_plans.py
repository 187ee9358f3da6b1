"""PostgreSQL's cost-based shortcuts (bot.search.backends.postgres_plans) change how an answer is
found, never what it is: the proof that a query has more than a few matches (one class of them
counted first), the newest rows walked for a phrase in titles, and GIN bitmaps for classes the
planner would walk. The choices are checked on made-up statistics; the answers, pages and counts
against the exhaustive scorer on PostgreSQL as migrated (RUM) and with GIN alone, with each
shortcut taken (and seen taken) and made to fail."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from search_corpus import brief, database_url, stored
from search_reference import reference_ranking
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.search import ranked
from bot.search.backends import TermAt, postgres, postgres_plans
from bot.search.backends.level_index import rebuild_level_index
from bot.search.backends.postgres_plans import (
    VectorStatistics,
    class_plan,
    proof_terms,
    title_window,
)
from bot.search.backends.token_statistics import TokenStatistics
from bot.search.grammar import TextTerm, parse_query
from bot.search.rank import BODY_LEVEL, LEVELS, TITLE_LEVEL
from bot.search.store import search
from bot.search.topk import is_word
from bot.signal import Signal
from bot.store.db import transaction
from bot.store.models import StoredSignal

TODAY = date(2026, 4, 24)
MILLION = 1_000_000.0


def statistics(levels: dict[str, float], titles: dict[str, float] | None = None,
               pairs: dict[str, float] | None = None) -> VectorStatistics:  # fmt: skip
    def of(shares: dict[str, float]) -> TokenStatistics:
        return TokenStatistics(MILLION, shares, 0.001)

    return VectorStatistics(of(levels), of(titles or {}), of(pairs or {}))


def word(text: str) -> TermAt:
    return TermAt(TextTerm((text,)))


def phrase(text: str) -> TermAt:
    return TermAt(TextTerm(tuple(text.split())))


LOTA = {"lota_4": 0.084, "lota_5": 0.0035, "lota_6": 0.02, "lota_7": 0.012}


def test_a_common_word_is_proven_on_its_smallest_level_that_holds_enough() -> None:
    assert proof_terms([word("lota")], [], [], statistics(LOTA), 201) == [
        TermAt(TextTerm(("lota",)), 5)
    ]


def test_no_proof_where_counting_the_query_is_as_cheap() -> None:
    dense = statistics({"the_8": 0.999})  # a scan finds 201 in the first 201 rows
    assert proof_terms([word("the")], [], [], dense, 201) is None
    rare = statistics({"xyz_8": 0.0004})  # fewer than 4 x 201 expected in any class
    assert proof_terms([word("xyz")], [], [], rare, 201) is None
    assert proof_terms([word("unlisted")], [], [], statistics(LOTA), 201) is None


def test_a_second_word_stays_whole_rather_than_bet_on_its_level() -> None:
    levels = ((4, 0.147), (5, 0.01), (6, 0.039), (7, 0.026), (8, 0.0027))
    shares = {f"{name}_{level}": share for name in ("muse", "spark") for level, share in levels}
    proof = proof_terms([word("muse"), word("spark")], [], [], statistics(shares), 201)
    assert proof is not None
    assert sorted(at.level or 0 for at in proof) == [0, 5]  # one word at a level, one anywhere


def test_filter_values_narrow_the_expected_class() -> None:
    shares = statistics({"model_8": 0.035, "model_5": 0.078, "e6d657461": 0.117, "s1": 0.99})
    proof = proof_terms([word("model")], [["e6d657461"]], [], shares, 201)
    assert proof == [TermAt(TextTerm(("model",)), 8)]  # 4,100 expected: the rarest that does
    # Excluding a source nearly every brief has leaves too few expected in any class.
    assert proof_terms([word("model")], [["e6d657461"]], [["s1"]], shares, 201) is None


def test_phrases_are_proven_in_titles_or_by_their_pair() -> None:
    bound = statistics({}, titles={"large": 0.0126, "language": 0.0126, "model": 0.049},
                       pairs={"__large_language": 0.21, "__language_model": 0.21})  # fmt: skip
    proof = proof_terms([phrase("large language model")], [], [], bound, 201)
    assert proof == [TermAt(TextTerm(("large", "language", "model")), TITLE_LEVEL)]
    loose = statistics({}, titles={"the": 0.5, "model": 0.049}, pairs={"__the_model": 0.057})
    proof = proof_terms([phrase("the model")], [], [], loose, 201)
    assert proof == [TermAt(TextTerm(("the", "model")), BODY_LEVEL)]
    assert proof_terms([TermAt(TextTerm(("mo",), prefix=True))], [], [], loose, 201) is None


def test_title_window_only_for_bound_phrases_common_in_titles() -> None:
    bound = statistics({}, titles={"large": 0.0126, "language": 0.0126, "model": 0.049},
                       pairs={"__large_language": 0.21, "__language_model": 0.21})  # fmt: skip
    in_title = TermAt(TextTerm(("large", "language", "model")), TITLE_LEVEL)
    assert title_window([in_title], bound, 5)
    assert not title_window([in_title], bound, 50)  # 25 expected in the window: too few
    assert not title_window([TermAt(in_title.term, BODY_LEVEL)], bound, 5)
    assert not title_window([in_title], None, 5)


def test_class_plans_follow_the_costs() -> None:
    shares = TokenStatistics(
        MILLION, {"model_8": 0.035, "t1": 0.16, "s1": 0.25, "the_8": 0.999}, 0.001
    )
    # 1,400 matches of a filtered class: a bitmap, not a walk testing 3,500 TOASTed rows
    assert class_plan([["model_8"], ["t1"], ["s1"]], shares, 5, rum=False) == "bitmap"
    assert class_plan([["model_8"], ["t1"], ["s1"]], shares, 5, rum=True) == "bitmap"
    assert class_plan([["the_8"]], shares, 5, rum=True) == "planner"  # dense: the walk
    assert class_plan([["rare"]], shares, 5, rum=True) == "rum"  # few postings
    assert class_plan([], shares, 5, rum=True) == "planner"
    # 1,000 of three tokens of 100,000 briefs expected; if they went together, 100,000
    common = TokenStatistics(MILLION, {"a_8": 0.1, "t2": 0.1, "s2": 0.1}, 0.001)
    assert class_plan([["a_8"], ["t2"], ["s2"]], common, 5, rum=False) == "planner"


# --- on PostgreSQL: the same answers as the exhaustive scorer --------------------------------


def corpus() -> list[Signal]:
    """Enough briefs for the statistics to list the query words at several levels."""
    rng = random.Random(11)
    briefs = []
    for n in range(260):
        title = rng.choice(["Large language model notes", "Muse spark update", "Weekly lota"])
        body_words = [rng.choice(["lota", "data", "the", "model", "muse spark", "large language"
                                  " model", "of"]) for _ in range(rng.randint(5, 30))]  # fmt: skip
        briefs.append(
            brief(
                f"{title} {n}",
                rng.randrange(400),
                entity=rng.choice(["Meta", "Mistral"]),
                source=rng.choice(["optyx", "wire"]),
                summary=" ".join(body_words[:8]),
                body=" ".join(body_words[8:]),
            )
        )
    rng.shuffle(briefs)
    return briefs


@pytest.fixture(scope="module", params=["rum", "gin"])
def sessions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    urls = database_url("postgresql", tmp_path_factory.mktemp("plans"), request)
    engine, factory = stored(next(urls), corpus())
    with engine.begin() as connection:
        if request.param == "gin":
            rebuild_level_index(connection, use_rum=False)
        connection.execute(text("ANALYZE signals"))
    yield factory
    engine.dispose()
    next(urls, None)


QUERIES = ("lota", "muse spark", '"large language model"', '"the model"', "lota entity:meta",
           "model -source:wire", "muse spark source:optyx", 'lota "large language model"',
           '"muse spark"', "data the",
           # an excluded keyword: proofs and title windows with each row tested
           'lota -keyword:"notes 1"', '"large language model" -keyword:"notes 1"',
           "muse spark -keyword:update", "the -keyword:lota")  # fmt: skip


def assert_as_scorer(sessions: sessionmaker[Session], query_text: str, few: int) -> None:
    with transaction(sessions) as session:
        ranking = reference_ranking(session, parse_query(query_text), TODAY)
        seq_of = {i: seq for i, seq in session.execute(select(StoredSignal.id, StoredSignal.seq))}
        for offset in (0, 5):
            page = search(session, parse_query(query_text), offset=offset, today=TODAY)
            assert [seq_of[hit.signal.id] for hit in page.hits] == [
                scored.seq for scored in ranking[offset : offset + 5]
            ], (query_text, offset)
            count = (page.total, page.more_than_total)
            assert count == (min(len(ranking), few), len(ranking) > few), query_text


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("few", "proof"),
    [(20, "cheapest"), (10_000, "cheapest"), (20, "top by bitmap"), (10_000, "top by bitmap"),
     (20, "top otherwise")],
    ids=["proven", "not proven", "proven on the first class", "not proven on the first class",
         "proven on the first class, read otherwise"],
)  # fmt: skip
def test_the_proof_class_gives_the_scorer_s_answers_and_counts(
    sessions: sessionmaker[Session], few: int, proof: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proofs tried whenever the statistics list the words; with FEW at 10,000 no class holds
    enough, so the whole query is counted after each (and the count is exact). On the first
    class (every word at the top level) read by bitmap, the proof's rows are that class's
    newest, which the walk then takes instead of reading the class again; read otherwise (RUM
    or a walk), the proof is an unordered count like any other."""
    monkeypatch.setattr(ranked, "FEW", few)
    for name, value in (("PROOF_MARGIN", 0.0), ("PROOF_SHARE", 10.0**9),
                        ("BOUND_PHRASE_SHARE", 0.0)):  # fmt: skip
        monkeypatch.setattr(postgres_plans, name, value)
    first_class = proof != "cheapest"
    if proof == "top by bitmap":  # every class read by bitmap
        monkeypatch.setattr(postgres_plans, "ROW_TEST_US", 10.0**9)
        monkeypatch.setattr(postgres_plans, "RUM_POSTING_US", 10.0**9)
    if proof == "top otherwise":  # no class read by bitmap
        monkeypatch.setattr(postgres_plans, "HEAP_ROW_US", 10.0**9)
    tried: list[list[TermAt]] = []

    def spy(terms: list[TermAt], *args: Any) -> list[TermAt] | None:
        chosen = proof_terms(terms, *args)
        if chosen and first_class and all(is_word(at.term) for at in terms):
            chosen = [TermAt(at.term, LEVELS) for at in terms]
        tried.extend([chosen] if chosen else [])
        return chosen

    monkeypatch.setattr(postgres, "proof_terms", spy)
    proof_rows = postgres.PostgresIndex._proof_rows
    counted: list[list[TermAt]] = []

    def proof_rows_spy(
        index: postgres.PostgresIndex, proof: list[TermAt], limit: int, **options: bool
    ) -> Any:
        counted.append(proof)
        return proof_rows(index, proof, limit, **options)

    monkeypatch.setattr(postgres.PostgresIndex, "_proof_rows", proof_rows_spy)
    newest = postgres.PostgresIndex.newest
    from_proof: list[bool] = []

    def newest_spy(index: postgres.PostgresIndex, terms: list[TermAt], limit: int) -> Any:
        from_proof.append(tuple(terms) in index._counted)
        return newest(index, terms, limit)

    monkeypatch.setattr(postgres.PostgresIndex, "newest", newest_spy)
    for query_text in QUERIES:
        assert_as_scorer(sessions, query_text, few)
    assert len(tried) >= len(QUERIES) // 2  # the statistics listed enough to try
    assert all(proof in counted for proof in tried)  # and each class chosen was counted
    if proof == "top by bitmap" and few < 10_000:  # (at 10,000 no query walks)
        assert any(from_proof)  # some first class came with its proof


@pytest.mark.postgres
@pytest.mark.parametrize("window", [2000, 3])
def test_phrases_in_titles_from_the_newest_rows(
    sessions: sessionmaker[Session], window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read from the window (2,000 rows: the whole corpus), or from the bitmap after a window
    of 3 rows held too few."""
    monkeypatch.setattr(ranked, "FEW", 0)
    for module in (postgres, postgres_plans):
        monkeypatch.setattr(module, "TITLE_WINDOW", window)
    monkeypatch.setattr(postgres_plans, "PROOF_MARGIN", 0.0)
    monkeypatch.setattr(postgres_plans, "BOUND_PHRASE_SHARE", 0.0)
    read = postgres.PostgresIndex._newest_in_window
    windows: list[int] = []

    def spy(index: postgres.PostgresIndex, terms: list[TermAt], limit: int) -> Any:
        windows.append(limit)
        return read(index, terms, limit)

    monkeypatch.setattr(postgres.PostgresIndex, "_newest_in_window", spy)
    queries = ('"large language model"', '"muse spark"', '"the model" since:2026-01-01',
               '"large language model" -keyword:"notes 1"')  # fmt: skip
    for query_text in queries:
        read_before = len(windows)
        with transaction(sessions) as session:
            ranking = reference_ranking(session, parse_query(query_text), TODAY)
            seq_of = {
                i: seq for i, seq in session.execute(select(StoredSignal.id, StoredSignal.seq))
            }
            page = search(session, parse_query(query_text), today=TODAY)
            assert [seq_of[hit.signal.id] for hit in page.hits] == [s.seq for s in ranking[:5]]
        if "keyword" in query_text:  # an excluded keyword keeps the window
            assert len(windows) > read_before
    assert windows
