"""`tojson`'s shortcut for strings writes exactly what Jinja's own filter writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from jinja2.utils import htmlsafe_json_dumps

from bot.render.escape import tojson

TRICKY = ["", "plain", "<@U123> & <!channel>", 'it\'s "quoted"', "東京\u2028\x00\ud7ff", "\\"]


@given(st.one_of(st.text(), st.sampled_from(TRICKY)))
def test_a_string_becomes_the_same_json_as_jinjas_tojson(text: str) -> None:
    expected = htmlsafe_json_dumps(text, sort_keys=True)
    assert tojson(text) == expected
    assert type(tojson(text)) is type(expected)  # Markup: `|e` after it escapes nothing more


def test_other_values_still_sort_their_keys_and_nest() -> None:
    value = {"b": ["<x>", 1], "a": {"c": None}}
    assert tojson(value) == htmlsafe_json_dumps(value, sort_keys=True)
    assert tojson(value).startswith('{"a": {"c": null}')
    assert tojson(tojson("a'b")) == htmlsafe_json_dumps(htmlsafe_json_dumps("a'b"))
