"""What SQLite's full-text index can say about its tokens, cheaply, before a query is written.

- `tokens_starting(start)`: every index token that starts with `start`, read from an `fts5vocab`
  table of kind `instance` (one per connection, in the `temp` schema: nothing is stored). Each
  step asks for the first token after the last one found, which reads that token's first
  instance only, not its whole posting list. A prefix then becomes its tokens (`ransom*` ->
  `ransomware_4 OR … OR ransomware_8`), which FTS5 reads newest first and stops; FTS5's own
  prefix query (without a prefix index of that length) first merges every posting list the
  prefix has, whatever the LIMIT.
- `densities(column, tokens)`: the share of the newest DENSITY_WINDOW briefs that hold each
  token: how costly it is to intersect with. A phrase leans on its rare tokens (bot.search.
  backends.sqlite_match).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

VOCABULARY = "temp.signals_fts_tokens"
MAX_EXPANSION = 256  # tokens; a prefix with more is left to FTS5's own prefix query
DENSITY_WINDOW = 2048  # briefs, newest first
DAY_SHIFT = 2**32
# Tokens are [a-z0-9_] (bot.search.tokens, bot.search.document): `\x7f` sorts after all of them,
# and `char(1)` appended to a token sorts before any longer token that starts with it.
_PAST_ANY = "\x7f"
_TOKENS_STARTING = text(
    f"""
    WITH RECURSIVE found(token) AS (
        SELECT (SELECT term FROM {VOCABULARY} WHERE term >= :start AND term < :past LIMIT 1)
        UNION ALL
        SELECT (
            SELECT term FROM {VOCABULARY}
            WHERE term >= found.token || char(1) AND term < :past LIMIT 1
        )
        FROM found WHERE found.token IS NOT NULL LIMIT :most
    )
    SELECT token FROM found WHERE token IS NOT NULL
    """
)
_WINDOW_START = text(
    "SELECT published_day * :shift + seq FROM signals "
    "ORDER BY published_day DESC, seq DESC LIMIT 1 OFFSET :skip"
)


class Vocabulary:
    """The index's tokens, as one search needs them (answers are kept for the search)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._starting: dict[str, list[str] | None] = {}
        self._window: tuple[int, int] | None = None  # (first rowid, briefs from it on)
        self._table_ready = False

    def tokens_starting(self, start: str) -> list[str] | None:
        """Every index token that starts with `start`, in order; None when over MAX_EXPANSION."""
        if start not in self._starting:
            self._create_table()
            found = self.session.scalars(
                _TOKENS_STARTING,
                {"start": start, "past": start + _PAST_ANY, "most": MAX_EXPANSION + 1},
            ).all()
            self._starting[start] = list(found) if len(found) <= MAX_EXPANSION else None
        return self._starting[start]

    def densities(self, column: str, tokens: Sequence[str]) -> list[float]:
        """For each token, the share of the newest DENSITY_WINDOW briefs whose `column` holds it."""
        if not tokens:
            return []
        window_start, window_size = self._newest_window()
        counts = ", ".join(
            f"(SELECT count(*) FROM signals_fts WHERE signals_fts MATCH :token{at} "
            "AND rowid >= :window_start)"
            for at in range(len(tokens))
        )
        values = {f"token{at}": f'{{{column}}} : "{token}"' for at, token in enumerate(tokens)}
        row = self.session.execute(
            text(f"SELECT {counts}"), {**values, "window_start": window_start}
        ).one()
        return [count / max(window_size, 1) for count in row]

    def _newest_window(self) -> tuple[int, int]:
        if self._window is None:
            edge = self.session.scalar(
                _WINDOW_START, {"shift": DAY_SHIFT, "skip": DENSITY_WINDOW - 1}
            )
            if edge is None:  # fewer briefs than the window: all of them
                self._window = (0, self.session.scalar(text("SELECT count(*) FROM signals")) or 0)
            else:
                self._window = (int(edge), DENSITY_WINDOW)
        return self._window

    def _create_table(self) -> None:
        # Once per search, not once per connection: made inside a transaction that is then
        # rolled back, a temp table is gone again (IF NOT EXISTS costs microseconds).
        if not self._table_ready:
            self.session.execute(
                text(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCABULARY} "
                    "USING fts5vocab(main, signals_fts, instance)"
                )
            )
            self._table_ready = True
