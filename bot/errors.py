"""Exceptions signal-bot raises on purpose.

SignalBotError
 ├── ParseError      a brief or JSON signal that cannot be read (names the file and line)
 ├── FilterError     a FILTER or QUERY a person typed that does not parse (friendly text)
 │    └── OptionError  a subscription OPTION (`digest=`, `tz=`, `format=`) or mute duration
 └── ConfigError     signal-bot.toml or the environment is wrong (names the setting)
"""

from __future__ import annotations


class SignalBotError(Exception):
    """Base of every error signal-bot raises on purpose."""


class ParseError(SignalBotError):
    """Input that cannot be read as a signal; `str()` reads `file:line: reason`."""

    def __init__(self, reason: str, *, file: str = "<input>", line: int = 1) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.reason = reason
        self.file = file
        self.line = line


class FilterError(SignalBotError):
    """A FILTER or QUERY that does not parse; the message is shown to the person who typed it."""


class ConfigError(SignalBotError):
    """A setting or the sources file is wrong; the message names it."""


class OptionError(FilterError):
    """A subscription OPTION or a mute's duration that does not parse (friendly text)."""
