"""JSON text to Python values whose strings UTF-8 can hold.

JSON may spell a lone surrogate (`"\\ud800"`: half of an emoji cut off, a careless encoder) and
`json.loads` keeps it, but no hash, SQLite or PostgreSQL can encode it. Each one becomes U+FFFD,
as a UTF-8 decoder does with a bad byte, so the brief is stored rather than lost.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.signal import is_valid_text, valid_text

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads_valid_json(text: str) -> Any:
    """`json.loads(text)`, lone surrogates in its strings (and keys) replaced by U+FFFD."""
    payload = json.loads(text)
    if ("\\u" in text and _SURROGATE_ESCAPE.search(text)) or not is_valid_text(text):
        return valid_json_strings(payload)
    return payload


def valid_json_strings(value: Any) -> Any:
    """Decoded JSON with each lone surrogate in its strings and keys replaced by U+FFFD."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, list):
        return [valid_json_strings(item) for item in value]
    if isinstance(value, dict):
        return {valid_text(key): valid_json_strings(item) for key, item in value.items()}
    return value
