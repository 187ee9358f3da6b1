"""Alembic environment: runs on the connection signal-bot hands it (see bot.store.db.upgrade)."""

from alembic import context

from bot.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
