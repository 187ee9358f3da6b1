"""The subscribe modal's flow: open it, refresh its count, suggest options, take the submission.

The submission becomes the FILTER a person would type and goes through `/signals subscribe`
(or, when editing, `Commands.edit_subscription`), so there is one validation and one path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.alerts.options import parse_subscription
from bot.commands import Commands, Reply
from bot.errors import FilterError
from bot.filters import parse_filter
from bot.slack.modal_data import (
    PREVIEW_DAYS,
    labels_of,
    pickers,
    preview_count,
    suggestions,
    window_start,
)
from bot.slack.views.modal import subscribe_modal
from bot.slack.views.modal_options import DeliveryChoice, option_block_for
from bot.slack.views.modal_state import (
    CHANNEL_BLOCK,
    KEYWORD_BLOCK,
    PICKED_FIELDS,
    Choices,
    ModalTarget,
    choices_from_state,
    choices_of_filter,
    subscription_text,
)
from bot.store.db import transaction
from bot.store.models import Subscription
from bot.store.overview import is_personal
from bot.store.subscriptions import ChannelRef, options_of

NOTHING_PICKED = "Pick at least one topic, entity or category, or type a keyword."


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid submission: the FILTER text as typed, where it goes, and what it replaces."""

    text: str
    where: ChannelRef
    subscription_id: int | None


class SubscribeModal:
    def __init__(self, commands: Commands) -> None:
        self.commands = commands
        self.context = commands.context

    def new_view(self, target: ModalTarget) -> dict[str, Any]:
        return self._view(target, Choices())

    def edit_view(self, subscription_id: int) -> dict[str, Any] | None:
        """The modal filled in with subscription #ID; None when it no longer exists."""
        with transaction(self.context.sessions) as session:
            row = session.get(Subscription, subscription_id)
            if row is None:
                return None
            choices, kept = choices_of_filter(parse_filter(row.filter))
            choices = replace(choices, delivery=DeliveryChoice.of(options_of(row)))
            target = ModalTarget(row.channel_id, row.channel_name, row.id, kept)
        return self._view(target, choices)

    def refreshed_view(self, view: dict[str, Any]) -> dict[str, Any]:
        """The view again with the count for the current choices (after a block_actions)."""
        target = ModalTarget.from_metadata(str(view.get("private_metadata", "")))
        return self._view(target, choices_from_state(_state_values(view)))

    def suggest(self, action_id: str, typed: str) -> list[dict[str, object]]:
        field_name = action_id.removeprefix("modal_pick_")
        if field_name not in PICKED_FIELDS:
            return []
        with transaction(self.context.sessions) as session:
            return suggestions(session, field_name, typed, window_start())

    def check(self, view: dict[str, Any], user_id: str, team_id: str) -> Accepted | dict[str, str]:
        """The submission, or the errors to show on the form's fields (`response_action`)."""
        target = ModalTarget.from_metadata(str(view.get("private_metadata", "")))
        choices = choices_from_state(_state_values(view))
        channel_id = target.channel_id or choices.channel_id
        if not channel_id:
            return {CHANNEL_BLOCK: "Choose the channel the briefs go to."}
        if choices.empty and not target.kept:
            return {PICKED_FIELDS[0]: NOTHING_PICKED}
        where = ChannelRef(channel_id, target.channel_name, team_id, user_id)
        if not is_personal(channel_id) and (
            refusal := self.context.permissions.refusal(user_id, team_id, mentions=False)
        ):
            return {PICKED_FIELDS[0]: refusal}
        try:
            text = subscription_text(choices, target.kept)
            parse_subscription(text)
        except FilterError as error:
            block = option_block_for(str(error))
            block = block or (KEYWORD_BLOCK if choices.keyword else PICKED_FIELDS[0])
            return {block: str(error)}
        return Accepted(text, where, target.subscription_id)

    def apply(self, accepted: Accepted) -> Reply:
        """Subscribe (or edit) exactly as the typed command does."""
        if accepted.subscription_id is None:
            return self.commands.signals(f"subscribe {accepted.text}", accepted.where)
        return self.commands.edit_subscription(
            accepted.subscription_id, accepted.text, accepted.where
        )

    def _view(self, target: ModalTarget, choices: Choices) -> dict[str, Any]:
        since = window_start()
        with transaction(self.context.sessions) as session:
            shown = pickers(session, since)
            labels = labels_of(session, choices, shown)
            preview = preview_count(session, choices, target.kept, since)
        return subscribe_modal(target, shown, choices, labels, preview, days=PREVIEW_DAYS)


def _state_values(view: dict[str, Any]) -> dict[str, Any]:
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}
