"""Secrets never leave the process: what a text shows of URLs and of the configured secrets.

A URL keeps its scheme, host, port and path; its credentials go, and its query string and
fragment become `?…` and `#…` (a feed's `?token=` is as secret as a password). Slack tokens
and the secret values the settings hold are masked wherever they appear. Source errors, health
reports, replies and CLI errors pass their text through `redact`; `install_log_redaction` does
it for every log record of the process, whoever logs it (httpx logs each request's URL).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "**********"
# Shorter "secrets" would mask ordinary words all over the logs.
MIN_SECRET_LENGTH = 6

# A URL ends at whitespace, quotes, brackets or a pipe (Slack's `<url|label>`). `…` never
# occurs in a real URL: one that ends in it is already redacted, which keeps `redact`
# idempotent and leaves the `:LINE:` of an error text after it alone.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>`|…]+…?")
_SLACK_TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")


def redact_url(url: str) -> str:
    """`https://user:pass@host/feed?token=x` -> `https://host/feed?…`."""
    _, separator, rest = url.partition("://")
    if not separator:
        return url
    _, query, fragment = _split_tail(_after_authority(rest))
    return f"{url_without_secrets(url)}{'?…' if query else ''}{'#…' if fragment else ''}"


def url_without_secrets(url: str) -> str:
    """The URL without credentials, query or fragment: still a working base for relative
    links (`/article` joined to a feed's URL must not carry the feed's password along)."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    after = _after_authority(rest)
    host = rest[: len(rest) - len(after)].rpartition("@")[2]
    return f"{scheme}://{host}{_split_tail(after)[0]}"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every URL redacted, Slack tokens and each of `secrets` masked."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, MASK)
    text = _URL.sub(lambda match: redact_url(match[0]), text)
    return _SLACK_TOKEN.sub(lambda match: f"{match[1]}-{MASK}", text)


def install_log_redaction(secrets: Iterable[str] = ()) -> None:
    """From now on every log record is redacted (with `secrets` too) as it is made."""
    with _INSTALL_LOCK:
        factory = logging.getLogRecordFactory()
        if not isinstance(factory, _RedactingRecordFactory):
            factory = _RedactingRecordFactory(factory)
            logging.setLogRecordFactory(factory)
        factory.secrets |= {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}


_INSTALL_LOCK = threading.Lock()


class _RedactingRecordFactory:
    """Makes records as before, then fixes their text: message, traceback and stack."""

    def __init__(self, make_record: Any) -> None:
        self.make_record = make_record
        self.secrets: frozenset[str] = frozenset()
        self._formatter = logging.Formatter()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.make_record(*args, **kwargs)
        try:
            record.msg, record.args = redact(record.getMessage(), self.secrets), None
        except Exception:  # a bad format string is logging's to report, at emit time
            return record
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text, so the traceback is only ever shown redacted.
            traceback = self._formatter.formatException(record.exc_info)
            record.exc_text = redact(traceback, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return record


def _after_authority(rest: str) -> str:
    """What follows `user:pass@host:port` in the part of a URL after `scheme://`."""
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    return rest[end:]


def _split_tail(tail: str) -> tuple[str, str, str]:
    """`/path?query#fragment` -> (path, query, fragment)."""
    before_fragment, _, fragment = tail.partition("#")
    path, _, query = before_fragment.partition("?")
    return path, query, fragment
