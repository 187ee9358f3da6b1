"""HTML from feeds -> plain text for signals (escaped for mrkdwn later, when rendered)."""

from __future__ import annotations

import re

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

# "strict" keeps block layout (paragraphs, list bullets) without indenting nested blocks.
_CONFIG = ParserConfig(css=CSS_PROFILES["strict"])
_BLANK_RUN = re.compile(r"\n{3,}")
_MARKUP_HINT = re.compile(r"<[A-Za-z!/]|&(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment: paragraphs kept, tags and scripts dropped."""
    if not _MARKUP_HINT.search(html):
        return tidy_text(html)
    return tidy_text(get_text(_CONTROL.sub("", html), _CONFIG))


def tidy_text(text: str) -> str:
    """Trailing spaces gone, at most one blank line in a row, no control characters."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " "))
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


def first_words(text: str, limit: int) -> str:
    """At most `limit` characters of `text` on one line, cut at a word, with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] or line[: limit - 1]
    return cut.rstrip(" ,;:.-") + "…"


def lede(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a paragraph or sentence end where there is one."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    for boundary in ("\n\n", ". ", "\n"):
        end = head.rfind(boundary)
        if end > limit // 2:
            return head[: end + 1].rstrip() + " …"
    return first_words(text, limit)
