"""A small search corpus (hand-written briefs plus deterministic filler) and databases holding it.

The hand-written briefs carry what search must get right: accents, CJK, hyphens, numbers
PostgreSQL reads as floats, apostrophes, repeated words, ties on date, every FILTER field.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import throwaway_postgres_database
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.filters import parse_filter
from bot.search.store import latest_page
from bot.signal import Section, Signal
from bot.store.db import make_engine, make_session_factory, transaction, upgrade
from bot.store.signals import upsert_signals

DAY = datetime(2026, 4, 23, tzinfo=UTC)


def brief(
    title: str,
    days_ago: int,
    *,
    entity: str = "",
    category: str = "",
    topic: str = "AI Advances",
    source: str = "optyx",
    summary: str = "",
    body: str = "",
) -> Signal:
    return Signal(
        title=title,
        published=DAY - timedelta(days=days_ago),
        key=f"{source}:{title}",
        source=source,
        entity=entity,
        category=category,
        topic=topic,
        summary=summary,
        sections=(Section("The News", body),) if body else (),
    )


HAND_WRITTEN = [
    brief(
        "Meta Pivots To Closed-Source AI With 'Muse Spark'",
        0,
        entity="Meta",
        category="PLATFORM RELEASE",
        summary="Meta launched Muse Spark, a closed-weight model, days after Llama 4.",
        body="The open-source Llama series continues; Muse Spark is API-only.",
    ),
    brief(
        "Llama 4 Scout and Maverick released",
        18,
        entity="Meta",
        category="PLATFORM RELEASE",
        summary="Open weights again: Llama 4 ships under Meta's community licence.",
        body="Developers welcomed the llamas; a rumour said a closed model would follow.",
    ),
    brief(
        "Café Zürich opens an AI lab",
        3,
        entity="Café Zürich AG",
        category="FUNDING",
        topic="Finance",
        source="wire",
        summary="The café chain hires researchers in Zürich and São Paulo.",
    ),
    brief(
        "東京 data centre expansion",
        4,
        entity="NTT",
        category="INFRASTRUCTURE",
        topic="Cloud",
        summary="A new 東京 campus adds capacity for GPT-4o class models.",
    ),
    brief(
        "GPT-4.5 and gpt-4o pricing cut",
        5,
        entity="OpenAI",
        category="PRICING",
        summary="OpenAI cut prices for gpt-4o; GPT-4.5 stays premium. Model 4e1c is a codename.",
    ),
    brief(
        "Patch Tuesday: 70 fixes, two zero-days",
        6,
        entity="Microsoft",
        category="SECURITY INCIDENT",
        topic="Cyber Security",
        source="feeds",
        summary="Seventy fixes; two zero-day flaws exploited in the wild.",
        body="Security teams should patch Exchange first. No rumour of a third zero-day.",
    ),
    brief(
        "Open source security model released",
        6,
        entity="Mistral",
        category="PLATFORM RELEASE",
        topic="Cyber Security",
        summary="A security model with open weights, tuned for triage.",
        body="Security security security: the word appears often here.",
    ),
    brief(
        "Regulators question closed models",
        9,
        entity="EU Commission",
        category="REGULATION",
        topic="Policy and Regulation",
        summary="Closed-weight models face transparency questions from regulators.",
    ),
    brief(
        "Straße to compliance: German rules for AI",
        12,
        entity="Bundesamt",
        category="REGULATION",
        topic="Policy and Regulation",
        source="wire",
        summary="Germany's rules (the “KI-Straße”) apply from 2027.",
    ),
    brief(
        "Nvidia ships Blackwell chips",
        2,
        entity="Nvidia",
        category="PLATFORM RELEASE",
        topic="Semiconductors",
        summary="Blackwell GPUs reach customers; supply chain remains tight.",
    ),
    brief(
        "Supply chain attack hits package registry",
        7,
        entity="PyPI",
        category="SECURITY INCIDENT",
        topic="Cyber Security",
        source="feeds",
        summary="A supply chain attack slipped malware into a popular package.",
        body="Maintainers rotated tokens. The attack used typosquatting.",
    ),
    brief(
        "Anthropic and Amazon expand partnership",
        10,
        entity="Anthropic",
        category="PARTNERSHIP",
        summary="More compute for model training; the partnership runs to 2030.",
    ),
    brief(
        "Quantum error correction milestone",
        30,
        entity="Google",
        category="RESEARCH",
        topic="Quantum",
        summary="Logical qubits beat physical ones for the first time.",
    ),
    brief(
        "Meta’s rumour mill: a new model",
        1,
        entity="Meta",
        category="OPINION",
        summary="Rumours of another model; nothing confirmed.",
    ),
    brief(
        "Same-day briefs tie on date (A)",
        8,
        entity="Tie Corp",
        category="RESEARCH",
        summary="Tie breaker text about benchmarks.",
    ),
    brief(
        "Same-day briefs tie on date (B)",
        8,
        entity="Tie Corp",
        category="RESEARCH",
        summary="Tie breaker text about benchmarks.",
    ),
]

FILLER_WORDS = tuple(
    " ".join(
        [
            "model market security platform release cloud data open launch training compute",
            "agents infrastructure regulators strategy deployment chips customers revenue",
            "governance safety inference partnership funding developers privacy benchmark",
            "multimodal firmware lithium satellite robotics encryption vulnerability",
            "ransomware sovereign antitrust copyright",
        ]
    ).split(" ")
)
FILLER_ENTITIES = ("Meta", "OpenAI", "Google", "Nvidia", "Microsoft", "Open AI Labs", "Mistral")
FILLER_CATEGORIES = ("RESEARCH", "FUNDING", "REGULATION", "PLATFORM RELEASE")
FILLER_TOPICS = ("AI Advances", "Cyber Security", "Cloud", "Semiconductors")


def filler(count: int = 84, seed: int = 5) -> list[Signal]:
    """Deterministic briefs from a small vocabulary: common words, many ties, every field used."""
    rng = random.Random(seed)
    briefs = []
    for number in range(count):
        words = [rng.choice(FILLER_WORDS) for _ in range(rng.randint(20, 40))]
        briefs.append(
            brief(
                " ".join(words[:5]).title() + f" #{number}",
                rng.randrange(60),
                entity=rng.choice(FILLER_ENTITIES),
                category=rng.choice(FILLER_CATEGORIES),
                topic=rng.choice(FILLER_TOPICS),
                source=rng.choice(("optyx", "wire", "feeds")),
                summary=" ".join(words[5:20]) + ".",
                body=" ".join(words[20:]) + ".",
            )
        )
    return briefs


CORPUS = [*HAND_WRITTEN, *filler()]


def stored(url: str, signals: list[Signal] = CORPUS) -> tuple[Engine, sessionmaker[Session]]:
    """A migrated database at `url` holding `signals`, stored in order through the real upsert."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        upsert_signals(session, [signal.keyed(signal.source) for signal in signals])
    return engine, sessions


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


HELIOGRAPH_NEWER = 120  # routine briefs without the keyword, newer than every match but one


def heliograph_archive(*, seed: int) -> list[Signal]:
    """One fresh mention of "heliograph", HELIOGRAPH_NEWER newer briefs without it, then old
    mentions (half from Meta), in a storage order shuffled against their dates."""
    briefs = [brief("Heliograph network returns", 0, summary="A heliograph relay.")]
    briefs += [
        brief(f"Routine note {n}", 1 + n % 30, summary="Nothing.") for n in range(HELIOGRAPH_NEWER)
    ]
    briefs += [
        brief(f"Archive piece {n}", 400 + n, entity="Meta" if n % 2 else "", body="heliographs")
        for n in range(9)
    ]
    random.Random(seed).shuffle(briefs)
    return briefs


def latest_titles_paged(
    sessions: sessionmaker[Session], filter_text: str, size: int, *, stored: int
) -> list[str]:
    """The titles `latest FILTER` lists, page after page of `size`, until a page is empty (at
    most as many pages as there are `stored` briefs)."""
    found: list[str] = []
    with transaction(sessions) as session:
        for _ in range(stored):
            page = latest_page(session, parse_filter(filter_text), limit=size, offset=len(found))
            if not page.hits:
                break
            found += [hit.signal.title for hit in page.hits]
    return found


def stored_corpus_fixture(signals: Callable[[], list[Signal]], *, name: str = "sessions") -> Any:
    """A module fixture called `name`: `signals()` stored once per module in a fresh database of
    each kind (DATABASES), dropped afterwards."""

    @pytest.fixture(scope="module", params=DATABASES, name=name)
    def fixture(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[sessionmaker[Session]]:
        yield from stored_sessions(request, tmp_path_factory, signals())

    return fixture


def stored_sessions(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    signals: list[Signal] = CORPUS,
) -> Iterator[sessionmaker[Session]]:
    """A module fixture's body: `signals` stored in a fresh database of `request.param`'s kind,
    dropped afterwards."""
    urls = database_url(request.param, tmp_path_factory.mktemp(request.param), request)
    engine, factory = stored(next(urls), signals)
    yield factory
    engine.dispose()
    next(urls, None)


def database_url(kind: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database of `kind` ("sqlite" or "postgresql"), dropped afterwards; the PostgreSQL
    one on the session's server (conftest's `postgres_server`, which skips or fails without)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'search.db'}"
        return
    yield from throwaway_postgres_database(request.getfixturevalue("postgres_server"))


def migrated_fts5_table() -> str:
    """The CREATE statement of the FTS5 table as the migrations leave it."""
    engine = make_engine("sqlite://")
    upgrade(engine)
    with engine.connect() as connection:
        sql = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'signals_fts'"
        ).scalar_one()
    engine.dispose()
    return str(sql)
