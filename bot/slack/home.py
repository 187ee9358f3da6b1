"""The App Home: gathers what a user should see and publishes it with views.publish.

Publishing happens off the request thread (a small pool), after `app_home_opened` and after every
change a user makes (CommandContext.changes), so the tab always shows the current state. Each
tab is published with the token of the user's own workspace.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.commands import CommandContext
from bot.filters import parse_filter
from bot.health import configured_source_health, failing_first
from bot.people import WorkspaceClients
from bot.slack.views.home import (
    PAGE_SIZE,
    PERSONAL_SHOWN,
    HomeData,
    ShownBrief,
    ShownChange,
    ShownMute,
    ShownSource,
    ShownSubscription,
    home_view,
    page_count,
)
from bot.store.db import transaction
from bot.store.history import recent_changes
from bot.store.models import Subscription
from bot.store.mutes import active_mutes
from bot.store.overview import (
    channel_subscriptions_page,
    count_channel_subscriptions,
    is_personal,
    latest_briefs,
    personal_subscriptions,
)
from bot.store.subscriptions import options_of

log = logging.getLogger(__name__)

LATEST_SHOWN = 5
CHANGES_SHOWN = 10


class HomePublisher:
    """Publishes users' home tabs; remembers which page of subscriptions each one was on."""

    def __init__(self, clients: WorkspaceClients, context: CommandContext) -> None:
        self.clients = clients
        self.context = context
        self._pages: dict[str, int] = {}
        self._lock = threading.Lock()
        # One worker: publishes run in the order asked, so a notice is never overwritten by an
        # earlier, plainer republish of the same tab.
        self._workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="home")

    def publish_soon(
        self, user_id: str, team_id: str = "", *, page: int | None = None, notice: str | None = None
    ) -> Future[None]:
        """Publish in the background (the caller is answering Slack within 3 s)."""
        return self._workers.submit(self.publish, user_id, team_id, page=page, notice=notice)

    def publish(
        self, user_id: str, team_id: str = "", *, page: int | None = None, notice: str | None = None
    ) -> None:
        """Build and publish the user's home tab in their workspace (`team_id`); a Slack error
        is logged, never raised."""
        if not user_id:
            return
        with self._lock:
            if page is not None:
                self._pages[user_id] = max(page, 0)
            wanted = self._pages.get(user_id, 0)
        try:
            client = self.clients(team_id)
            if client is None:
                log.warning("no token for workspace %s: home tab not published", team_id)
                return
            view = home_view(self.data(user_id, wanted, notice, team_id))
            client.views_publish(user_id=user_id, view=view)
        except (SlackApiError, SlackClientError, OSError) as error:
            log.warning("views.publish for %s failed: %s", user_id, error)
        except Exception:  # a bug must not take the listener's thread down with it
            log.exception("could not publish the home tab of %s", user_id)

    def data(
        self, user_id: str, page: int, notice: str | None = None, team_id: str = ""
    ) -> HomeData:
        """What the user's home tab shows, read in one transaction."""
        permissions = self.context.permissions
        is_manager = permissions.is_manager(user_id, team_id)
        with transaction(self.context.sessions) as session:
            personal = personal_subscriptions(session, user_id, limit=PERSONAL_SHOWN)
            total = count_channel_subscriptions(session)
            page = min(page, page_count(total) - 1)
            rows = channel_subscriptions_page(session, offset=page * PAGE_SIZE, limit=PAGE_SIZE)
            mutes = [
                ShownMute(row.id, row.channel_id, parse_filter(row.filter).describe(), row.until)
                for row in active_mutes(session, now=self.context.clock.now())
                if not is_personal(row.channel_id) or row.channel_id == user_id
            ]
            latest = [
                ShownBrief(row.id, row.title, row.entity, row.category, row.published)
                for row in latest_briefs(session, limit=LATEST_SHOWN)
            ]
            sources, changes = [], []
            if is_manager:
                health = configured_source_health(
                    session, self.context.sources, self.context.push_enabled
                )
                sources = [_shown_source(row) for row in failing_first(health)]
                changes = [
                    ShownChange(
                        c.at, c.channel_id, c.actor, c.action, c.subject, c.subject_id, c.after
                    )
                    for c in recent_changes(session, limit=CHANGES_SHOWN)
                ]
            return HomeData(
                user_id=user_id,
                is_manager=is_manager,
                who_may=permissions.policy.who_may(),
                personal=[_shown(row) for row in personal],
                channel_subscriptions=[_shown(row) for row in rows],
                mutes=mutes,
                total_channel_subscriptions=total,
                page=page,
                latest=latest,
                sources=sources,
                changes=changes,
                notice=notice,
            )


def _shown(row: Subscription) -> ShownSubscription:
    return ShownSubscription(
        id=row.id,
        channel_id=row.channel_id,
        canonical=row.filter,
        description=parse_filter(row.filter).describe(),
        paused_reason=row.paused_reason,
        options=options_of(row).describe(),
    )


def _shown_source(row: dict[str, object]) -> ShownSource:
    return ShownSource(
        name=str(row["name"]),
        failing=bool(row["failing"]),
        failing_for_long=bool(row["failing_for_long"]),
        last_poll_at=str(row["last_poll_at"]) if row["last_poll_at"] else None,
        last_error=str(row["last_error"]) if row["last_error"] else None,
    )
