"""The `folder` source: `*.txt` briefs and `*.json` signal files, read when new or changed."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.config import SourceConfig
from bot.errors import ParseError
from bot.ingest import ingest
from bot.signal import Signal, is_valid_text, valid_text
from bot.sources.brief_format import read_brief_file
from bot.sources.json_signals import read_json_signal_file
from bot.sources.report import PollReport
from bot.store import source_state as state_store
from bot.store.db import transaction
from bot.store.models import SourceFile

log = logging.getLogger(__name__)

SIGNAL_FILE_SUFFIXES = {".txt", ".json"}
FILES_PER_TRANSACTION = 500


@dataclass(frozen=True, slots=True)
class FileStamp:
    path: str  # as text a database can hold (see stored_path)
    mtime_ns: int
    size: int
    on_disk: str  # as the operating system spells it, to open it


def stored_path(path: str) -> str:
    """A file's path as text every database can store: a Linux file name may hold any bytes,
    and those that are not UTF-8 (kept as lone surrogates by Python) are spelt `\\xNN`."""
    return path if is_valid_text(path) else os.fsencode(path).decode("utf-8", "backslashreplace")


def read_signal_file(path: Path) -> list[Signal]:
    """The signals in one file: a brief (`.txt`) or JSON signal objects (`.json`)."""
    if path.suffix.lower() == ".json":
        return read_json_signal_file(path)
    return [read_brief_file(path)]


def poll_folder(sessions: sessionmaker[Session], source: SourceConfig) -> PollReport:
    """Read the folder's new and changed files and ingest their signals."""
    assert source.path is not None
    report = PollReport(source=source.name)
    with transaction(sessions) as session:
        state = state_store.source_state(session, source.name)
        report.announced = state.primed or source.backfill
        known = state_store.known_files(session, source.name)
    if not source.path.is_dir():
        raise FileNotFoundError(f"folder {source.path} does not exist")
    current = list(_scan(source.path))
    changed = [stamp for stamp in current if _is_changed(stamp, known)]
    # Oldest first, so that of two files with the same key the most recently modified wins.
    changed.sort(key=lambda stamp: (stamp.mtime_ns, stamp.path))
    for start in range(0, len(changed), FILES_PER_TRANSACTION):
        _ingest_files(sessions, source, changed[start : start + FILES_PER_TRANSACTION], report)
    _forget_removed(sessions, source.name, known, current)
    return report


def _scan(folder: Path) -> Iterator[FileStamp]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file() and Path(entry.name).suffix.lower() in SIGNAL_FILE_SUFFIXES:
                if entry.name.startswith("."):
                    continue  # editors' swap and temp files
                info = entry.stat()
                yield FileStamp(stored_path(entry.path), info.st_mtime_ns, info.st_size, entry.path)


def _is_changed(stamp: FileStamp, known: dict[str, SourceFile]) -> bool:
    row = known.get(stamp.path)
    return row is None or (row.mtime_ns, row.size) != (stamp.mtime_ns, stamp.size)


def _ingest_files(
    sessions: sessionmaker[Session],
    source: SourceConfig,
    stamps: list[FileStamp],
    report: PollReport,
) -> None:
    signals: list[Signal] = []
    errors: dict[str, str] = {}
    for stamp in stamps:
        try:
            found = read_signal_file(Path(stamp.on_disk))
        except (ParseError, OSError) as error:
            errors[stamp.path] = _error_text(error, stamp)
            log.warning("source %s: skipped %s", source.name, errors[stamp.path])
            continue
        signals += [s.with_defaults(source.defaults).keyed(source.name) for s in found]
    with transaction(sessions) as session:
        report.ingest += ingest(session, signals, announce=report.announced)
        for stamp in stamps:
            state_store.remember_file(
                session,
                source.name,
                stamp.path,
                mtime_ns=stamp.mtime_ns,
                size=stamp.size,
                error=errors.get(stamp.path),
            )
    report.items_seen += len(stamps)
    report.errors += errors.values()


def _error_text(error: ParseError | OSError, stamp: FileStamp) -> str:
    if isinstance(error, ParseError):
        return str(ParseError(error.reason, file=stamp.path, line=error.line))
    return valid_text(str(error))


def _forget_removed(
    sessions: sessionmaker[Session],
    source: str,
    known: dict[str, SourceFile],
    current: list[FileStamp],
) -> None:
    present = {stamp.path for stamp in current}
    removed = [path for path in known if path not in present]
    if removed:
        with transaction(sessions) as session:
            state_store.forget_files(session, source, removed)
