"""A deterministic generator of varied, Zipf-distributed briefs for the search benchmark.

Brief `i` of seed `s` is always the same brief, whatever else is generated, so a corpus can be
built in parallel chunks and cached. Word, entity, category and topic frequencies follow Zipf-like
laws (a few very common, a long tail of rare ones); a handful of collocations ("large language
model", "supply chain") make phrase queries meaningful. Dates run through ten years in storage
order, with one brief in fifty backfilled from an earlier date.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.signal import Section, Signal

FIRST_DAY = datetime(2016, 1, 1, tzinfo=UTC)
DAYS = 3653
SECTION_HEADINGS = ("The News", "The OPTYX Analysis", "AI Governance Impact")
COMMON_WORDS = tuple(
    " ".join(
        [
            "the of and to in a is that for on with as by its at from this an be are will has",
            "ai model data new market security platform release cloud systems open company",
            "models enterprise risk access research policy users launch training compute",
            "agents infrastructure regulators strategy deployment chips customers revenue",
            "governance safety source inference partnership funding developers privacy",
            "quantum robotics semiconductor encryption vulnerability ransomware satellite",
            "biotech lithium sovereign antitrust copyright benchmark multimodal firmware",
        ]
    ).split(" ")
)
COLLOCATIONS = (
    "large language model", "open source", "supply chain", "zero day", "data center",
    "machine learning", "national security", "export controls", "closed weight",
    "foundation model", "critical infrastructure", "muse spark",
)  # fmt: skip
REAL_ENTITIES = (
    "Meta", "OpenAI", "Google", "Microsoft", "Nvidia", "Anthropic", "Amazon", "Apple",
    "Mistral", "TSMC", "Samsung", "Intel", "AMD", "IBM", "Oracle", "Baidu", "Alibaba",
)  # fmt: skip
CATEGORIES = (
    "PLATFORM RELEASE", "RESEARCH", "FUNDING", "REGULATION", "SECURITY INCIDENT",
    "PARTNERSHIP", "ACQUISITION", "LITIGATION", "OUTAGE", "HIRING", "EARNINGS",
    "POLICY", "STANDARDS", "SUPPLY CHAIN", "OPINION",
)  # fmt: skip
TOPICS = (
    "AI Advances", "Cyber Security", "Policy and Regulation", "Semiconductors", "Cloud",
    "Biotech", "Energy", "Space", "Quantum", "Finance",
)  # fmt: skip
SOURCES = ("optyx", "wire", "analyst-desk", "community")
SYLLABLES = (
    "ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "den", "gar",
    "pol", "tek", "ran", "zu", "bel", "cor", "fin", "mar", "ost", "qui",
)  # fmt: skip


@dataclass(frozen=True)
class Vocabulary:
    """Words and names with their Zipf cumulative weights, built once per generator."""

    words: Sequence[str]
    word_weights: Sequence[float]
    entities: Sequence[str]
    entity_weights: Sequence[float]

    @classmethod
    def build(cls, size: int = 40_000, entities: int = 3_000) -> Vocabulary:
        tail = (word for word in _pseudo_words() if word not in COMMON_WORDS)
        words = [*COMMON_WORDS, *itertools.islice(tail, size - len(COMMON_WORDS))]
        names = [*REAL_ENTITIES, *_entity_names(entities - len(REAL_ENTITIES))]
        return cls(words, _zipf_cumulative(len(words), 1.05), names, _zipf_cumulative(len(names)))


def _pseudo_words() -> Iterator[str]:
    for length in (2, 3, 4):
        for parts in itertools.product(SYLLABLES, repeat=length):
            yield "".join(parts)


def _entity_names(count: int) -> list[str]:
    suffixes = ("Labs", "Systems", "Networks", "AI", "Robotics", "Bio", "Capital", "Dynamics")
    stems = itertools.islice(_pseudo_words(), 500, 500 + count)
    return [f"{stem.title()} {suffixes[index % len(suffixes)]}" for index, stem in enumerate(stems)]


def _zipf_cumulative(count: int, exponent: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


class BriefGenerator:
    """`generator.brief(i)` is brief number `i` of the corpus for `seed`."""

    def __init__(self, seed: int = 20260423, total: int = 1_000_000) -> None:
        self.seed = seed
        self.total = max(total, 1)
        self.vocabulary = Vocabulary.build()
        self.category_weights = _zipf_cumulative(len(CATEGORIES), 0.8)
        self.topic_weights = _zipf_cumulative(len(TOPICS), 0.8)

    def briefs(self, start: int, stop: int) -> Iterator[Signal]:
        """Briefs number `start` to `stop - 1`."""
        for index in range(start, stop):
            yield self.brief(index)

    def brief(self, index: int) -> Signal:
        rng = random.Random(self.seed * 1_000_003 + index)
        entity = self._entity(rng)
        return Signal(
            title=self._title(rng, entity),
            published=self._published(rng, index),
            key=f"bench-{index}",
            source=rng.choice(SOURCES),
            entity=entity,
            category=rng.choices(CATEGORIES, cum_weights=self.category_weights)[0],
            topic=rng.choices(TOPICS, cum_weights=self.topic_weights)[0],
            summary=self._sentences(rng, rng.randint(2, 3), entity),
            sections=tuple(
                Section(heading, self._sentences(rng, rng.randint(2, 4), entity))
                for heading in SECTION_HEADINGS
            ),
            url=f"https://signals.example/briefs/{index}",
        )

    def _entity(self, rng: random.Random) -> str:
        vocabulary = self.vocabulary
        return rng.choices(vocabulary.entities, cum_weights=vocabulary.entity_weights)[0]

    def _words(self, rng: random.Random, count: int) -> list[str]:
        vocabulary = self.vocabulary
        return rng.choices(vocabulary.words, cum_weights=vocabulary.word_weights, k=count)

    def _title(self, rng: random.Random, entity: str) -> str:
        words = self._words(rng, rng.randint(4, 8))
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words) + 1), rng.choice(COLLOCATIONS))
        return f"{entity} {' '.join(words)}".title()

    def _sentences(self, rng: random.Random, count: int, entity: str) -> str:
        sentences = []
        for _ in range(count):
            words = self._words(rng, rng.randint(8, 16))
            if rng.random() < 0.25:
                words.insert(rng.randrange(len(words) + 1), rng.choice(COLLOCATIONS))
            if rng.random() < 0.3:
                words.insert(0, entity)
            sentences.append(" ".join(words).capitalize() + ".")
        return " ".join(sentences)

    def _published(self, rng: random.Random, index: int) -> datetime:
        if rng.random() < 0.02:
            day = rng.randrange(DAYS)  # a backfilled brief from an earlier day
        else:
            day = min(DAYS - 1, index * DAYS // self.total + rng.randint(0, 2))
        return FIRST_DAY + timedelta(days=day)
