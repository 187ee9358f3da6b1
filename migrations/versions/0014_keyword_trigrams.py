"""`keyword:` through an index on PostgreSQL: a trigram GIN index over `keyword_text`.

`keyword:` is a substring test (`keyword_text LIKE '%ransomware%'`, bot.search.conditions), which
was tested row by row, reading each brief's TOASTed `keyword_text` (about 15-50 µs a row at
1,000,000 briefs). The `pg_trgm` extension (PostgreSQL's contrib, in Debian's `postgresql`
package; trusted, so a database owner may create it) indexes the text's trigrams, so PostgreSQL
answers `LIKE '%…%'` from a bitmap of the briefs holding every trigram of the keyword, then
checks those rows' text: the same matches, from a few rows read. Without the extension (or the
right to create it) the index is skipped with a warning and `keyword:` stays a row test.
`signal-bot db search-index` builds it later. SQLite tests the substring as before (no-op).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from alembic import op

from bot.search.backends.keyword_index import create_keyword_index, drop_keyword_index

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        create_keyword_index(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        drop_keyword_index(op.get_bind())
