"""Rendering: templates -> Block Kit messages within Slack's limits.

escape.py    mrkdwn escaping and the text filters templates use
limits.py    Slack's limits in one place: fitting blocks, capping a message, splitting into parts
renderer.py  the Jinja environment, template output parsing, validation, the Renderer
"""

from bot.render.escape import (
    ELLIPSIS,
    FILTERS,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    escaped_chunks,
    highlight,
    mrkdwn,
    mrkdwn_chunks,
    plain,
    safe_url,
    slack_date,
    tojson,
    truncate_chars,
    truncate_words,
)
from bot.render.limits import (
    LIMITS,
    MESSAGE,
    VIEW,
    Blocks,
    SlackLimits,
    Surface,
    fit_to_slack,
    split_into_parts,
    text_length,
)
from bot.render.renderer import (
    BRIEF_FORMATS,
    BriefFormat,
    Message,
    Renderer,
    RenderError,
    build_environment,
    bundled_templates_dir,
)

__all__ = [
    "BRIEF_FORMATS",
    "ELLIPSIS",
    "FILTERS",
    "HIGHLIGHT_END",
    "HIGHLIGHT_START",
    "LIMITS",
    "MESSAGE",
    "VIEW",
    "Blocks",
    "BriefFormat",
    "Message",
    "RenderError",
    "Renderer",
    "SlackLimits",
    "Surface",
    "build_environment",
    "bundled_templates_dir",
    "escaped_chunks",
    "fit_to_slack",
    "highlight",
    "mrkdwn",
    "mrkdwn_chunks",
    "plain",
    "safe_url",
    "slack_date",
    "split_into_parts",
    "text_length",
    "tojson",
    "truncate_chars",
    "truncate_words",
]
