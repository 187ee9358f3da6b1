"""Two PostgreSQL indexes for what search still tested row by row at 1,000,000 briefs.

- `keyword:` (a substring of `keyword_text`, `LIKE '%…%'`): a trigram GIN index over it, from
  `pg_trgm` (PostgreSQL's contrib, in Debian's `postgresql` package; a trusted extension, so a
  database owner may create it), so a rare keyword is found from the index, not by reading every
  brief's TOASTed text (bot.search.backends.keyword_index). Without the extension (or the right
  to create it) the index is skipped with a warning and `keyword:` stays a row test.
- Phrases of three words or more: a GIN index over `search_triples(search_title, search_body)`,
  every three tokens in a row, so their candidates are the briefs holding their triples rather
  than every brief holding their pairs (bot.search.backends.phrase_index).

SQLite answers both as before (FTS5 positions; a substring test): nothing to do there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from alembic import op

from bot.search.backends.keyword_index import create_keyword_index, drop_keyword_index
from bot.search.backends.phrase_index import create_triples_index, drop_triples_index

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        create_keyword_index(op.get_bind())
        create_triples_index(op.get_bind())
        op.execute("ANALYZE signals")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        drop_triples_index(op.get_bind())
        drop_keyword_index(op.get_bind())
