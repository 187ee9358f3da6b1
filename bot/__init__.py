"""signal-bot: posts intelligence briefs to the Slack channels subscribed to them."""

__version__ = "0.1.0"
