"""`signal-bot ingest PATH|URL`: one document now, or an archive streamed with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from bot.app import Services, build_services
from bot.bulk_ingest import BulkReport, bulk_ingest
from bot.config import Settings
from bot.errors import ParseError
from bot.ingest import IngestReport, ingest
from bot.redaction import redact
from bot.sources import shared_fetcher
from bot.sources.any_document import read_location
from bot.sources.document import ParsedItem
from bot.sources.http import FetchError
from bot.sources.remote import keep_first_seen_dates
from bot.sources.stream import stream_kind, unread_items
from bot.store.db import transaction

CLI_SOURCE = "cli"
INTERRUPTED = 130  # the shell's status for a command stopped by Ctrl-C


def worker_count(text: str) -> int:
    """`--workers`: a whole number, 0 or more."""
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more, not {text!r}")
    return count


def ingest_file(args: argparse.Namespace) -> int:
    services = build_services(Settings())
    local = Path(args.path)
    if not args.path.lower().startswith(("http://", "https://")) and local.exists():
        kind = stream_kind(local)
        if kind != "document":
            return ingest_archive(services, local, kind, args.source, args.workers)
    try:
        found = read_location(args.path, shared_fetcher())
    except (ParseError, FetchError, OSError) as error:
        print(f"signal-bot: stored nothing: {redact(str(error))}", file=sys.stderr)
        return 1
    items = [ParsedItem(item.signal.keyed(args.source), item.dated) for item in found]
    with transaction(services.sessions) as session:
        signals = keep_first_seen_dates(session, args.source, items)
        report = ingest(session, signals, announce=True)
    for signal in signals:
        print(f"{_change_of(signal.id, report):9} {signal.id}  {signal.title}")
    services.deliverer.deliver_pending()
    if not report.stored:
        print("signal-bot: stored nothing: every signal was already stored", file=sys.stderr)
        return 1
    return 0


def ingest_archive(services: Services, path: Path, kind: str, source: str, workers: int) -> int:
    """Stream an archive into the store with a progress bar; exit 1 if any item failed, 130
    when interrupted (what was stored stays; the same command again stores the rest)."""
    total = len(list(path.iterdir())) if kind == "folder" else path.stat().st_size
    report = BulkReport()
    with tqdm(
        total=total,
        unit="B" if kind != "folder" else " files",
        unit_scale=kind != "folder",
        disable=None,
        file=sys.stderr,
        desc=f"ingest {path.name}",
    ) as bar:

        def advance(position: int) -> None:
            bar.update(position - bar.n)

        def failed(failure: str) -> None:
            tqdm.write(f"signal-bot: skipped {failure}", file=sys.stderr)

        try:
            bulk_ingest(
                services.sessions,
                unread_items(path, kind),
                source=source,
                workers=workers,
                report=report,
                on_item=advance,
                on_failure=failed,
            )
        except KeyboardInterrupt:
            interrupted = True
        else:
            interrupted = False
    print(
        f"read {report.read:,}: {report.new:,} new, {report.revised:,} revised, "
        f"{report.unchanged:,} unchanged, {report.failed:,} failed; "
        f"{report.queued:,} posts queued"
    )
    if interrupted:
        print(
            "signal-bot: interrupted; what is counted above is stored, "
            "and the same command again stores the rest",
            file=sys.stderr,
        )
        return INTERRUPTED
    services.deliverer.deliver_pending()
    return 1 if report.failed or not (report.new or report.revised) else 0


def _change_of(signal_id: str, report: IngestReport) -> str:
    if signal_id in report.new:
        return "new"
    return "revised" if signal_id in report.revised else "unchanged"
