"""Logging set-up: text for people, or one JSON object per line for log pipelines
(SIGNAL_BOT_LOG_FORMAT=json), with the team, channel, signal key and delivery ID where a log
call names them (`extra=job.log_context`)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

CONTEXT_FIELDS = ("team", "channel", "signal_key", "delivery_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value not in (None, ""):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str, *, verbose: bool = False) -> None:
    """Root logging for the process, in `text` or `json` (left alone, as logging.basicConfig
    does, when something embedding signal-bot has set it up already)."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Alembic says which DDL mode it assumes on every start; the schema's step is logged by
    # bot.store.db.upgrade instead.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
