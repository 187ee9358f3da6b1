"""`signal-bot`: run the bot, manage the database, and mirror the slash commands on the terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from bot import __version__
from bot.app import LOCAL_CHANNEL, Services, build_services
from bot.bulk_workers import MAX_DEFAULT_WORKERS, default_workers
from bot.cli_ingest import CLI_SOURCE, ingest_file, worker_count
from bot.cli_manage import audit, export_subscriptions, import_subscriptions
from bot.commands import SUBCOMMANDS, Reply, split_cli_words
from bot.config import Settings
from bot.errors import ConfigError, ParseError, SignalBotError
from bot.health import source_health
from bot.jobs import build_scheduler
from bot.logs import configure_logging
from bot.process import serving, spare_the_collector, stop_gracefully, stop_requested
from bot.redaction import redact
from bot.render import BRIEF_FORMATS
from bot.search.backends.keyword_index import create_keyword_index
from bot.search.backends.level_index import rebuild_level_index
from bot.signal import valid_text
from bot.sources.folder import read_signal_file
from bot.store import digests, outbox
from bot.store.db import SERVING_PAGE_CACHE_KIB, make_engine, transaction, upgrade
from bot.store.models import utcnow
from bot.store.subscriptions import ChannelRef, add_subscription, channel_subscriptions
from bot.terminal import message_to_text
from bot.web_workers import (
    MAX_WEB_WORKERS,
    inherited_listener,
    serve_with_workers,
    stop_with_parent,
)

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        log_format = Settings().signal_bot_log_format
    except ValidationError:
        log_format = "text"  # the command's own Settings() reports what is wrong
    configure_logging(log_format, verbose=args.verbose)
    try:
        return int(args.handler(args) or 0)
    except (ConfigError, SignalBotError) as error:
        print(f"signal-bot: {redact(str(error))}", file=sys.stderr)
        return 2
    except OperationalError as error:  # the database is down, or the URL points nowhere
        reason = str(error.orig or error).strip().splitlines()[0]
        print(f"signal-bot: cannot use the database: {redact(reason)}", file=sys.stderr)
        return 2
    except ValidationError as error:  # a setting from the environment is out of range
        for problem in error.errors():
            name = "_".join(str(part) for part in problem["loc"]).upper()
            print(f"signal-bot: {name}: {problem['msg']}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signal-bot",
        description="Posts intelligence briefs to the Slack channels subscribed to them.",
    )
    parser.add_argument("--version", action="version", version=f"signal-bot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> Any:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    run_parser = command(
        "run", run, "Scheduler and Slack listener in one process (local mode without a token)."
    )
    web_parser = command("web", web, "The HTTP app alone: /slack/events, /healthz, POST /signals.")
    for serving_parser in (run_parser, web_parser):
        serving_parser.epilog = ANY_PORT_HELP
    web_parser.add_argument(
        "--workers",
        type=_worker_count,
        metavar="N",
        help="processes serving $PORT together, about one per core "
        "(default: SIGNAL_BOT_WEB_WORKERS, else WEB_CONCURRENCY, else 1)",
    )
    command("worker", worker, "The scheduler alone: polls sources and delivers the outbox.")
    db = command("db", lambda _: parser.error("say `signal-bot db upgrade`"), "Database tasks.")
    db_actions = db.add_subparsers(metavar="ACTION", required=True)
    db_actions.add_parser("upgrade", help="Apply pending migrations.").set_defaults(
        handler=db_upgrade
    )
    search_index = db_actions.add_parser(
        "search-index",
        help="Rebuild PostgreSQL's search index: RUM where the extension is installed, else GIN; "
        "add the keyword: trigram index if it is missing.",
    )
    search_index.add_argument("--gin", action="store_true", help="GIN even where RUM is installed")
    search_index.set_defaults(handler=db_search_index)
    ingest_parser = command(
        "ingest",
        ingest_file,
        "Ingest a brief, JSON signals, a feed (file or URL), or an archive of any size: "
        "a JSON array, NDJSON, or a folder.",
    )
    ingest_parser.add_argument("path", help="a file or folder path, or an http(s) URL")
    ingest_parser.add_argument(
        "--source",
        default=CLI_SOURCE,
        type=valid_text,  # an argument holding bytes that are not UTF-8 gets U+FFFD for them
        help="source name (default: cli)",
    )
    ingest_parser.add_argument(
        "--workers",
        type=worker_count,
        default=default_workers(),
        help="processes that read an archive while this one stores it; 0 reads in this one "
        f"(default: cores - 1, at most {MAX_DEFAULT_WORKERS}: {default_workers()} here)",
    )
    preview = command("preview", preview_file, "Render a brief or JSON signal file as a message.")
    preview.add_argument("path", type=Path, help="the file to render")
    preview.add_argument("--json", action="store_true", help="print the Block Kit JSON")
    preview.add_argument(
        "--format",
        choices=BRIEF_FORMATS,
        default="full",
        help="full: sections in the post as far as they fit; compact: sections in the thread",
    )
    command("sources", sources, "Each source's health: last poll, last error, items.")
    deliveries_parser = command(
        "deliveries",
        deliveries,
        "Recent deliveries; `retry` re-queues failed ones and re-renders fallbacks.",
    )
    deliveries_parser.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    deliveries_parser.add_argument("--state", help="only deliveries in this state (e.g. failed)")
    audit_parser = command("audit", audit, "Every change to subscriptions and mutes, newest first.")
    audit_parser.add_argument("--channel", help="only this channel's changes (a channel ID)")
    audit_parser.add_argument("--limit", type=int, default=100, help="how many (default 100)")
    transfer = command(
        "subscriptions",
        lambda _: parser.error("say `signal-bot subscriptions export` or `... import FILE`"),
        "Export every subscription as YAML, or import such a file.",
    )
    actions = transfer.add_subparsers(metavar="ACTION", required=True)
    actions.add_parser(
        "export", help="Print every subscription as YAML (comments name the channels)."
    ).set_defaults(handler=export_subscriptions)
    importer = actions.add_parser(
        "import", help="Apply a YAML file idempotently; nothing is applied if any entry is bad."
    )
    importer.add_argument("file", type=Path, help="a file as `subscriptions export` prints it")
    importer.add_argument("--dry-run", action="store_true", help="print the changes, apply none")
    importer.set_defaults(handler=import_subscriptions)
    _add_slash_mirrors(command)
    return parser


def _add_slash_mirrors(command: Callable[..., argparse.ArgumentParser]) -> None:
    for sub in SUBCOMMANDS:
        if sub.name in {"help", "sources"}:  # `signal-bot sources` has its own, fuller form
            continue
        mirror = command(sub.name, slash_mirror, f"Like `/signals {sub.usage}`. {sub.summary}")
        mirror.set_defaults(subcommand=sub.name)
        if sub.name in {"subscribe", "unsubscribe", "list", "mute", "unmute", "history"}:
            mirror.add_argument("channel", help="channel ID (e.g. C0123ABCD) or `local`")
        nargs = "*" if sub.name in {"latest", "list"} else "+"
        if sub.name not in {"list", "topics", "history"}:
            mirror.add_argument("words", nargs=nargs, help=sub.usage.partition(" ")[2])


def slash_mirror(args: argparse.Namespace) -> int:
    services = build_services(Settings())
    where = ChannelRef(channel_id=getattr(args, "channel", LOCAL_CHANNEL))
    text = f"{args.subcommand} {split_cli_words(getattr(args, 'words', []))}"
    print_reply(services.commands.signals(text, where))
    return 0


def print_reply(reply: Reply) -> None:
    for message in (reply.message, *reply.followups):
        print(message_to_text(message))


def db_upgrade(_: argparse.Namespace) -> int:
    upgrade(make_engine(Settings().database_url.get_secret_value()))
    print("database is up to date")
    return 0


def db_search_index(args: argparse.Namespace) -> int:
    engine = make_engine(Settings().database_url.get_secret_value())
    if engine.dialect.name != "postgresql":
        print("SQLite's search index (FTS5) needs no rebuild")
        return 0
    with engine.begin() as connection:
        kind = rebuild_level_index(connection, use_rum=not args.gin)
        trigrams = create_keyword_index(connection)
    print(f"search index rebuilt: {kind.upper()}")
    print("keyword: index " + ("present" if trigrams else "missing (no pg_trgm extension)"))
    return 0


def preview_file(args: argparse.Namespace) -> int:
    services = build_services(Settings(), migrate=False)
    try:
        found = read_signal_file(args.path)
    except (ParseError, OSError) as error:
        print(f"signal-bot: {error}", file=sys.stderr)
        return 1
    for signal in found:
        parts = services.renderer.render_brief(signal.keyed(CLI_SOURCE), args.format)
        for number, message in enumerate(parts, start=1):
            if args.json:
                print(json.dumps({"text": message.text, "blocks": message.blocks}, indent=2))
                continue
            if number > 1:
                print(f"── threaded reply {number} of {len(parts)} ──")
            print(message_to_text(message))
    return 0


def sources(_: argparse.Namespace) -> int:
    services = build_services(Settings())
    for source in source_health(services):
        state = "ok"
        if source["failing"]:
            state = "FAILING!" if source["failing_for_long"] else "failing"
        print(
            f"{source['name']:20} {source['kind'] or '?':7} {state:8} "
            f"last poll {source['last_poll_at']}  last success {source['last_success_at']}  "
            f"seen {source['items_seen']}  new {source['items_new']}  "
            f"next poll {source['next_poll_at']}"
        )
        if source["failing"]:
            print(
                f"    failing since {source['failing_since']} "
                f"({source['consecutive_failures']} in a row): {source['last_error']}"
            )
        if source["last_warning"]:
            print(f"    warning: {source['last_warning']}")
        for error in source["file_errors"]:
            print(f"    {error}")
    return 0


def deliveries(args: argparse.Namespace) -> int:
    services = build_services(Settings())
    with transaction(services.sessions) as session:
        if args.action == "retry":
            count = outbox.retry_failed(session)
            print(f"re-queued {count} failed deliveries")
            if fallbacks := outbox.retry_fallbacks(session):
                print(f"rendering {fallbacks} deliveries sent as a fallback again, in place")
            if failed_digests := digests.retry_failed(session, now=utcnow()):
                print(f"re-queued {failed_digests} failed digests")
            return 0
        counts = outbox.count_by_state(session)
        print("deliveries: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
        if digest_counts := digests.count_by_state(session):
            print("digests: " + ", ".join(f"{n} {s}" for s, n in sorted(digest_counts.items())))
        if args.state:
            _print_deliveries(outbox.deliveries(session, state=args.state))
            return 0
        for state, hint in DELIVERY_STATES_TO_SHOW.items():
            if rows := outbox.deliveries(session, state=state):
                print(f"\n{state}: {hint}")
                _print_deliveries(rows)
        if fallbacks := outbox.count_fallbacks(session):
            print(f"\nfallbacks: {fallbacks} {FALLBACK_HINT}")
            for row in outbox.fallbacks(session, limit=20):
                print(f"{row.id:6} {row.channel_id:12} {row.signal_id}  {row.fallback_reason}")
    return 0


FALLBACK_HINT = (
    "sent as a short fallback: Slack refused the full message (a rendering bug: see the log)"
)


DELIVERY_STATES_TO_SHOW = {
    "failed": "`signal-bot deliveries retry` sends them again",
    "paused": "their channel's subscriptions are paused (see `/signals list` there)",
    "sending": "in flight; rows of a worker that died are reconciled and resent",
    "muted": "held back by a mute (`/signals list`): never posted, still searchable",
}


def _print_deliveries(rows: Sequence[Any]) -> None:
    for row in rows:
        error = f"  {row.last_error}" if row.last_error else ""
        where = f"{row.state:8} {row.channel_id:12} {row.signal_id}"
        print(f"{row.id:6} {where} attempts={row.attempts}{error}")


ANY_PORT_HELP = (
    "HTTP is served on $PORT (3000); PORT=0 takes any free port, named in the log line "
    "`serving HTTP on port N`."
)


def run(_: argparse.Namespace) -> int:
    settings = Settings()
    settings.require_http_secrets()
    services = build_services(settings, page_cache_kib=SERVING_PAGE_CACHE_KIB)
    scheduler = build_scheduler(services)
    interactive = settings.local_mode and sys.stdin.isatty()
    # At the prompt, Ctrl-C ends input() as people expect; otherwise it asks for a clean stop.
    stop = threading.Event() if interactive else stop_requested()
    scheduler.start()
    try:
        if settings.local_mode:
            _run_local(services, stop)
        else:
            with serving(services, lambda: scheduler.running):
                stop.wait()
    finally:
        stop_gracefully(services, scheduler)
    return 0


def web(args: argparse.Namespace) -> int:
    settings = Settings()
    settings.require_http_secrets()
    listener = inherited_listener()  # set: this is one of a parent's workers
    workers = args.workers or settings.signal_bot_web_workers
    if workers > 1 and listener is None:
        return serve_with_workers(settings, workers)
    services = build_services(
        settings, migrate=listener is None, page_cache_kib=SERVING_PAGE_CACHE_KIB
    )
    spare_the_collector()
    stop = stop_requested()
    if listener is not None:
        stop_with_parent(stop)
    try:
        with serving(services, None, slack_listener="http", listener=listener):
            stop.wait()
    finally:
        stop_gracefully(services, None)
    return 0


def _worker_count(text: str) -> int:
    """An argparse type: how many web processes, as SIGNAL_BOT_WEB_WORKERS allows (1-64)."""
    if not text.isdigit() or not 1 <= int(text) <= MAX_WEB_WORKERS:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_WEB_WORKERS}, not {text!r}"
        )
    return int(text)


def worker(_: argparse.Namespace) -> int:
    services = build_services(Settings())
    scheduler = build_scheduler(services)
    stop = stop_requested()
    scheduler.start()
    log.info("worker started: %d source(s)", len(services.settings.sources))
    stop.wait()
    stop_gracefully(services, scheduler)
    return 0


def _run_local(services: Services, stop: threading.Event) -> None:
    with transaction(services.sessions) as session:
        local = ChannelRef(channel_id=LOCAL_CHANNEL, channel_name=LOCAL_CHANNEL)
        if not channel_subscriptions(session, LOCAL_CHANNEL):
            add_subscription(session, local, "all")
    print(
        LOCAL_BANNER.format(sources=", ".join(s.name for s in services.settings.sources) or "none")
    )
    if sys.stdin.isatty():
        _local_prompt(services)
    else:
        stop.wait()


LOCAL_BANNER = """signal-bot is running in local mode (no SLACK_BOT_TOKEN): briefs are printed here.
Sources: {sources}. The terminal is channel `local`, subscribed to everything.
Type slash commands as in Slack, e.g. `/signals list`, `/brief muse`, `/signals latest`;
Ctrl-C or `quit` stops."""


def _local_prompt(services: Services) -> None:
    where = ChannelRef(channel_id=LOCAL_CHANNEL, channel_name=LOCAL_CHANNEL)
    while True:
        try:
            line = input("signals> ").strip()
        except (EOFError, KeyboardInterrupt):
            return
        if line in {"quit", "exit"}:
            return
        if line.startswith("/brief"):
            print_reply(services.commands.brief(line.removeprefix("/brief"), where))
        elif line:
            print_reply(services.commands.signals(line.removeprefix("/signals"), where))
