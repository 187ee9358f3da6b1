"""Bolt listeners for the subscribe modal and the App Home: shims that ack, then call plain code.

`register(app, commands, clients, workers)` is all bot.slack_app needs to call; it must run
before the generic `/signals` listener, so that a bare `/signals subscribe` opens the form.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App

from bot.commands import Commands
from bot.people import WorkspaceClients
from bot.slack.home import HomePublisher
from bot.slack.listeners import home, modal
from bot.slack.subscribe_modal import SubscribeModal


def register(
    app: App, commands: Commands, clients: WorkspaceClients, workers: ThreadPoolExecutor
) -> HomePublisher:
    """Register the modal's and the home tab's listeners; the home follows every change."""
    form = SubscribeModal(commands)
    publisher = HomePublisher(clients, commands.context)

    def follow(user_id: str, team_id: str) -> None:
        publisher.publish_soon(user_id, team_id)

    commands.context.changes.listen(follow)
    modal.register(app, form, workers)
    home.register(app, form, publisher, commands)
    return publisher
