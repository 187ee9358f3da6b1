"""`/signals` and `/brief`: command text in, a reply out. Used by Slack and the CLI alike.

base.py           Reply, the CommandContext every command gets, ChannelAccess
dispatch.py       the subcommand table and `Commands`, the one object Slack and the CLI call
subscriptions.py  subscribe, unsubscribe, list
search.py         search, latest, show, and the Share / paging buttons
admin.py          sources
"""

from bot.commands.base import ChannelAccess, CommandContext, OpenChannels, Reply
from bot.commands.dispatch import SUBCOMMANDS, Commands, Subcommand, split_cli_words
from bot.commands.search import PAGE_SIZE

__all__ = [
    "PAGE_SIZE",
    "SUBCOMMANDS",
    "ChannelAccess",
    "CommandContext",
    "Commands",
    "OpenChannels",
    "Reply",
    "Subcommand",
    "split_cli_words",
]
