"""Views (the subscribe modal, the App Home) as pure functions of data -> view JSON.

`checked_view` holds Slack's view limits in one place and validates every view with
`slack_sdk.models.views.View`, so a view Slack would refuse fails here, loudly, first.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.views import View

from bot.errors import SignalBotError
from bot.render import plain, truncate_chars

MAX_VIEW_BLOCKS = 100
MAX_TEXT = 3000
MAX_PUBLISH_BYTES = 250_000
MAX_PRIVATE_METADATA = 3000


class ViewError(SignalBotError):
    """A view Slack would refuse; the text says which limit it breaks."""


def checked_view(view: dict[str, Any]) -> dict[str, Any]:
    """The view, once it passes slack_sdk's validation and Slack's view limits."""
    blocks = view.get("blocks", [])
    if len(blocks) > MAX_VIEW_BLOCKS:
        raise ViewError(f"{len(blocks)} blocks, over Slack's {MAX_VIEW_BLOCKS}")
    if len(view.get("private_metadata", "")) > MAX_PRIVATE_METADATA:
        raise ViewError("private_metadata over 3,000 characters")
    if (longest := max((len(text) for text in _texts(blocks)), default=0)) > MAX_TEXT:
        raise ViewError(f"a text of {longest} characters, over {MAX_TEXT}")
    if len(json.dumps(view).encode()) > MAX_PUBLISH_BYTES:
        raise ViewError("the view is over views.publish's 250 kB")
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError, KeyError) as error:
        raise ViewError(str(error)) from error
    return view


def _texts(value: object) -> list[str]:
    """Every `text` string of text objects anywhere in the blocks."""
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    if not isinstance(value, dict):
        return []
    own = [value["text"]] if isinstance(value.get("text"), str) else []
    return own + [text for item in value.values() for text in _texts(item)]


def plain_text(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object of untrusted text, escaped and cut to `limit` characters."""
    return {"type": "plain_text", "text": truncate_chars(plain(text), limit) or " ", "emoji": True}


def mrkdwn_text(text: str) -> dict[str, Any]:
    """A mrkdwn object from text that is already escaped, cut to Slack's 3,000 characters."""
    return {"type": "mrkdwn", "text": truncate_chars(text, MAX_TEXT)}
