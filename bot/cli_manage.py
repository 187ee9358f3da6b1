"""`signal-bot audit` and `signal-bot subscriptions export|import`: managing from the terminal."""

from __future__ import annotations

import argparse
import sys

from bot.app import build_services
from bot.config import Settings
from bot.store.db import transaction
from bot.store.history import recent_changes
from bot.store.models import utcnow
from bot.subscriptions_file import (
    ImportRejected,
    apply_import,
    export_yaml,
    plan_import,
    read_entries,
)


def audit(args: argparse.Namespace) -> int:
    services = build_services(Settings())
    with transaction(services.sessions) as session:
        changes = recent_changes(session, channel_id=args.channel, limit=max(args.limit, 1))
    if not changes:
        print("no changes recorded yet")
    for change in changes:
        subject = f"{change.subject} #{change.subject_id}" if change.subject_id else change.subject
        print(
            f"{change.at:%Y-%m-%d %H:%M:%S} UTC  {change.channel_id:12} {change.actor:12} "
            f"{change.action:12} {subject}: {change.before or '-'} -> {change.after or '-'}"
        )
    return 0


def export_subscriptions(_: argparse.Namespace) -> int:
    services = build_services(Settings())
    with transaction(services.sessions) as session:
        print(export_yaml(session, now=utcnow()), end="")
    return 0


def import_subscriptions(args: argparse.Namespace) -> int:
    services = build_services(Settings())
    try:
        entries = read_entries(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        print(f"signal-bot: {args.file}: {error}", file=sys.stderr)
        return 1
    except ImportRejected as rejected:
        for problem in rejected.problems:
            print(f"signal-bot: {args.file}: {problem}", file=sys.stderr)
        print("signal-bot: nothing was imported", file=sys.stderr)
        return 1
    with transaction(services.sessions) as session:
        planned = plan_import(session, entries)
        if not args.dry_run:
            apply_import(session, planned)
    verb = {
        "add": "would add" if args.dry_run else "added",
        "update": "would update" if args.dry_run else "updated",
        "unchanged": "unchanged",
    }
    for step in planned:
        entry = step.entry
        print(f"{verb[step.action]:10} {entry.channel_id:12} {entry.canonical}")
    added = sum(step.action == "add" for step in planned)
    updated = sum(step.action == "update" for step in planned)
    summary = "would add" if args.dry_run else "added"
    change = "would update" if args.dry_run else "updated"
    print(f"{summary} {added}, {change} {updated}, unchanged {len(planned) - added - updated}")
    return 0
