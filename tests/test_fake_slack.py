"""The fake Slack answers the real slack-sdk WebClient the way Slack does."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from fake_slack import FakeSlack, read_by_slack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.signature import SignatureVerifier
from slack_signing import block_actions_body, sign, slash_command_body

METADATA = {"event_type": "brief_posted", "event_payload": {"brief_id": 42}}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_channel("C1", "general")
        fake.add_channel("C2", "random")
        fake.add_channel("COUT", "outside", member=False)
        fake.add_channel("CPRIV", "secret", private=True, member=False)
        fake.add_channel("CARCH", "old", archived=True)
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.base_url)


def slack_error(call: Callable[..., object], *args: object, **kwargs: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        call(*args, **kwargs)
    return raised.value


def test_auth_test_identifies_the_bot(client: WebClient) -> None:
    response = client.auth_test()
    assert (response["team_id"], response["user_id"], response["bot_id"]) == (
        "T0FAKE",
        "UBOT",
        "B0FAKE",
    )


def test_post_then_history_returns_metadata_only_when_asked(
    slack: FakeSlack, client: WebClient
) -> None:
    blocks = [SectionBlock(text="*Brief* of the day")]
    first = client.chat_postMessage(channel="C1", text="brief", blocks=blocks, metadata=METADATA)
    second = client.chat_postMessage(channel="C1", text="second")

    assert first["message"]["blocks"][0]["text"]["text"] == "*Brief* of the day"
    assert first["message"]["metadata"] == METADATA
    assert float(second["ts"]) > float(first["ts"])
    plain = client.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in plain] == ["second", "brief"]
    assert "metadata" not in plain[1]
    full = client.conversations_history(channel="C1", include_all_metadata=True)["messages"]
    assert full[1]["metadata"] == METADATA
    assert slack.calls("chat.postMessage")[0].params["blocks"][0]["type"] == "section"


def test_history_honours_oldest_and_limit(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="C1", text=f"m{i}")["ts"] for i in range(4)]

    newer = client.conversations_history(channel="C1", oldest=stamps[1])
    assert [m["text"] for m in newer["messages"]] == ["m3", "m2"]
    page = client.conversations_history(channel="C1", limit=3)
    assert [m["text"] for m in page["messages"]] == ["m3", "m2", "m1"]
    assert page["has_more"] is True


def test_form_encoded_blocks_and_metadata_are_decoded(slack: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "divider"}]
    form = {
        "channel": "C1",
        "text": "t",
        "blocks": json.dumps(blocks),
        "metadata": json.dumps(METADATA),
    }

    client.api_call("chat.postMessage", data=form)

    assert slack.messages("C1")[0]["blocks"] == blocks
    assert slack.messages("C1")[0]["metadata"] == METADATA


@pytest.mark.parametrize(
    ("channel", "error"),
    [("COUT", "not_in_channel"), ("CNOPE", "channel_not_found"), ("CARCH", "is_archived")],
)
def test_posting_where_slack_refuses(client: WebClient, channel: str, error: str) -> None:
    refused = slack_error(client.chat_postMessage, channel=channel, text="hi")
    assert refused.response["error"] == error


def test_join_public_channel_then_post(slack: FakeSlack, client: WebClient) -> None:
    joined = client.conversations_join(channel="COUT")

    assert joined["channel"]["is_member"] is True
    assert client.conversations_info(channel="COUT")["channel"]["is_member"] is True
    client.chat_postMessage(channel="COUT", text="now allowed")
    assert client.conversations_join(channel="COUT")["warning"] == "already_in_channel"


@pytest.mark.parametrize(
    ("channel", "error"),
    [("CPRIV", "method_not_supported_for_channel_type"), ("CARCH", "is_archived")],
)
def test_join_refused(client: WebClient, channel: str, error: str) -> None:
    assert slack_error(client.conversations_join, channel=channel).response["error"] == error


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "no_such_block"}],
        [{"type": "divider"}] * 51,
        ["not a block"],
    ],
    ids=["text-too-long", "unknown-type", "51-blocks", "not-an-object"],
)
def test_invalid_blocks_rejected(slack: FakeSlack, client: WebClient, blocks: list[object]) -> None:
    refused = slack_error(client.chat_postMessage, channel="C1", text="t", blocks=blocks)
    assert refused.response["error"] == "invalid_blocks"
    assert slack.messages("C1") == []


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({}, "no_text"),
        ({"text": "t", "blocks": '{"type": "divider"}'}, "invalid_blocks_format"),
        ({"text": "t", "metadata": {"event_payload": {}}}, "invalid_metadata_format"),
    ],
)
def test_malformed_messages_rejected(
    client: WebClient, message: dict[str, object], error: str
) -> None:
    refused = slack_error(client.api_call, "chat.postMessage", json={"channel": "C1", **message})
    assert refused.response["error"] == error


def test_update_edits_the_stored_message(slack: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="draft")["ts"]

    client.chat_update(channel="C1", ts=ts, text="final")

    assert [m["text"] for m in slack.messages("C1")] == ["final"]
    refused = slack_error(client.chat_update, channel="C1", ts="1.000001", text="x")
    assert refused.response["error"] == "message_not_found"


def test_post_ephemeral_is_kept_apart(slack: FakeSlack, client: WebClient) -> None:
    response = client.chat_postEphemeral(channel="C1", user="U123", text="only you")

    assert response["message_ts"]
    assert slack.ephemerals("C1")[0]["user"] == "U123"
    assert slack.messages("C1") == []


def test_rate_limited_call_surfaces_status_and_retry_after(
    slack: FakeSlack, client: WebClient
) -> None:
    slack.fail_next("chat.postMessage", retry_after=7)

    refused = slack_error(client.chat_postMessage, channel="C1", text="hi")

    assert refused.response.status_code == 429
    assert refused.response.headers["Retry-After"] == "7"
    assert refused.response["error"] == "ratelimited"
    assert slack.rate_limited_count == 1


def test_fail_next_counts_down_per_method(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", times=2)
    slack.fail_next("chat.update", error="fatal_error", status=200, retry_after=None)

    for _ in range(2):
        slack_error(client.chat_postMessage, channel="C1", text="hi")
    ts = client.chat_postMessage(channel="C1", text="hi")["ts"]
    assert slack_error(client.chat_update, channel="C1", ts=ts, text="x").response["error"] == (
        "fatal_error"
    )
    client.chat_update(channel="C1", ts=ts, text="x")
    assert len(slack.calls("chat.postMessage")) == 3
    assert slack.rate_limited_count == 2


def test_rate_limiter_per_channel_with_burst(slack: FakeSlack, client: WebClient) -> None:
    now = [100.0]  # seconds; steps of 1/8 s stay exact in binary
    slack.limit_rate(per_channel_per_second=4, burst=2, clock=lambda: now[0])

    client.chat_postMessage(channel="C1", text="1")
    client.chat_postMessage(channel="C1", text="2")
    refused = slack_error(client.chat_postMessage, channel="C1", text="3")
    client.chat_postMessage(channel="C2", text="other channel has its own budget")
    now[0] += 0.125
    still_refused = slack_error(client.chat_postMessage, channel="C1", text="half a token")
    now[0] += 0.125
    client.chat_postMessage(channel="C1", text="refilled")

    assert int(refused.response.headers["Retry-After"]) >= 1
    assert still_refused.response.status_code == 429
    assert slack.rate_limited_count == 2


def test_global_rate_limit_spans_channels(slack: FakeSlack, client: WebClient) -> None:
    slack.limit_rate(per_channel_per_second=100, burst=1, global_per_minute=60)

    client.chat_postMessage(channel="C1", text="1")
    refused = slack_error(client.chat_postMessage, channel="C2", text="2")

    assert refused.response.status_code == 429


def test_auth_error_and_unknown_method(slack: FakeSlack, client: WebClient) -> None:
    assert slack_error(client.api_call, "no.such.method").response["error"] == "unknown_method"
    slack.set_auth_error("invalid_auth")
    assert slack_error(client.auth_test).response["error"] == "invalid_auth"
    tokenless = WebClient(base_url=slack.base_url)
    slack.set_auth_error(None)
    assert slack_error(tokenless.auth_test).response["error"] == "not_authed"


def test_calls_record_headers_and_clear(slack: FakeSlack, client: WebClient) -> None:
    client.auth_test()

    [call] = slack.calls()
    assert call.method == "auth.test"
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    slack.clear()
    assert slack.calls() == []


def test_latency_delays_each_answer(slack: FakeSlack, client: WebClient) -> None:
    slack.set_latency(0.05)
    started = time.monotonic()

    client.auth_test()

    assert time.monotonic() - started >= 0.05


def test_wait_for_calls_sees_calls_from_other_threads(slack: FakeSlack, client: WebClient) -> None:
    threading.Timer(0.05, lambda: client.chat_postMessage(channel="C1", text="later")).start()

    [call] = slack.wait_for_calls("chat.postMessage", 1, timeout=30.0)

    assert call.params["text"] == "later"
    with pytest.raises(AssertionError, match="expected 2"):
        slack.wait_for_calls("chat.postMessage", 2, timeout=0.05)


def test_response_url_posts_are_recorded(slack: FakeSlack) -> None:
    httpx.post(slack.response_url("cmd"), json={"response_type": "ephemeral", "text": "done"})
    httpx.post(slack.response_url("other"), json={"text": "elsewhere"})

    assert slack.wait_for_responses(2)[0]["text"] == "done"
    assert slack.responses("other") == [{"text": "elsewhere"}]
    assert slack.wait_for_responses(1, tag="cmd")[0]["response_type"] == "ephemeral"


def test_sign_matches_slack_signature_verifier() -> None:
    body = slash_command_body("/signal", "ai", channel_id="C1", response_url="http://x/response/1")
    headers = sign(body, "s3cret")

    verifier = SignatureVerifier("s3cret")
    ts, signature = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert verifier.is_valid(body, ts, signature)
    assert not SignatureVerifier("other").is_valid(body, ts, signature)
    assert signature.startswith("v0=")
    assert sign(body, "s3cret", timestamp=1700000000)["X-Slack-Request-Timestamp"] == "1700000000"


def test_request_bodies_carry_slack_fields() -> None:
    body = slash_command_body("/signal", "a b&c", channel_id="C1", response_url="http://x/r")
    fields = {key: values[0] for key, values in parse_qs(body.decode()).items()}
    assert fields["command"] == "/signal"
    assert fields["text"] == "a b&c"
    assert fields["response_url"] == "http://x/r"
    assert {"token", "team_domain", "user_name", "api_app_id", "trigger_id"} <= fields.keys()

    action = block_actions_body({"type": "block_actions", "actions": [{"action_id": "a"}]})
    assert json.loads(parse_qs(action.decode())["payload"][0])["type"] == "block_actions"


# --- as strict as Slack: each documented limit, and the cumulative one ---------------------------


def section(text: str, **extra: object) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(**fields: object) -> dict[str, object]:
    return {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go"} | {
        key: value for key, value in fields.items()
    }


def mrkdwn_field(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


# One block just over each limit Slack documents (and a twin just within it, below).
OVER_THE_LIMIT = {
    "header-151": {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
    "header-mrkdwn": {"type": "header", "text": {"type": "mrkdwn", "text": "h"}},
    "section-3001": section("s" * 3001),
    "11-fields": {"type": "section", "fields": [mrkdwn_field("f")] * 11},
    "field-2001": {"type": "section", "fields": [mrkdwn_field("f" * 2001)]},
    "11-context-elements": {"type": "context", "elements": [mrkdwn_field("c")] * 11},
    "button-text-76": {
        "type": "actions",
        "elements": [button(text={"type": "plain_text", "text": "b" * 76})],
    },
    "action-id-256": {"type": "actions", "elements": [button(action_id="a" * 256)]},
    "value-2001": {"type": "actions", "elements": [button(value="v" * 2001)]},
    "block-id-256": section("s", block_id="b" * 256),
    "unknown-type": {"type": "carousel", "text": "x"},
}
WITHIN_THE_LIMIT = [
    {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
    section("s" * 3000, block_id="b" * 255),
    {"type": "section", "fields": [mrkdwn_field("f" * 200)] * 10},
    {"type": "context", "elements": [mrkdwn_field("c")] * 10},
    {"type": "actions", "elements": [button(action_id="a" * 255, value="v" * 2000)]},
]


@pytest.mark.parametrize("block", OVER_THE_LIMIT.values(), ids=OVER_THE_LIMIT.keys())
def test_each_documented_block_limit_is_enforced(
    slack: FakeSlack, client: WebClient, block: dict[str, object]
) -> None:
    refused = slack_error(client.chat_postMessage, channel="C1", text="t", blocks=[block])

    assert refused.response["error"] == "invalid_blocks"
    assert slack.messages("C1") == []
    assert slack.refusals == [("chat.postMessage", "invalid_blocks")]


def test_blocks_just_within_every_limit_are_accepted(slack: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="t", blocks=WITHIN_THE_LIMIT)

    assert slack.messages("C1")[0]["blocks"] == WITHIN_THE_LIMIT
    assert slack.refusals == []


def test_duplicate_block_or_action_ids_are_refused(client: WebClient) -> None:
    twice = [section("a", block_id="same"), section("b", block_id="same")]
    buttons = [{"type": "actions", "elements": [button(), button()]}]

    for blocks in (twice, buttons):
        refused = slack_error(client.chat_postMessage, channel="C1", text="t", blocks=blocks)
        assert refused.response["error"] == "invalid_blocks"


@pytest.mark.parametrize("method", ["chat.postMessage", "chat.update"])
def test_more_than_12000_characters_of_block_text_is_msg_blocks_too_long(
    slack: FakeSlack, client: WebClient, method: str
) -> None:
    ts = client.chat_postMessage(channel="C1", text="t")["ts"]
    at_the_limit = [section("s" * 3000)] * 4
    over = [*at_the_limit, {"type": "context", "elements": [mrkdwn_field("c")]}]

    client.api_call(method, json={"channel": "C1", "ts": ts, "text": "t", "blocks": at_the_limit})
    refused = slack_error(
        client.api_call, method, json={"channel": "C1", "ts": ts, "text": "t", "blocks": over}
    )

    assert refused.response["error"] == "msg_blocks_too_long"
    assert slack.refusals == [(method, "msg_blocks_too_long")]


def test_top_level_text_is_cut_after_40000_characters(slack: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="x" * 45_000)

    assert len(slack.messages("C1")[0]["text"]) == 40_000


def test_malformed_attachments_are_invalid_attachments(client: WebClient) -> None:
    refused = slack_error(
        client.api_call, "chat.postMessage", json={"channel": "C1", "attachments": "nope"}
    )
    assert refused.response["error"] == "invalid_attachments"


def test_a_refused_response_url_post_is_answered_and_remembered(slack: FakeSlack) -> None:
    too_long = {"text": "t", "blocks": [section("s" * 3000)] * 5}

    answer = httpx.post(slack.response_url("r"), json=too_long)

    assert (answer.status_code, answer.json()["error"]) == (400, "msg_blocks_too_long")
    assert slack.responses() == []
    assert slack.refusals == [("response_url", "msg_blocks_too_long")]


def test_thread_replies_stay_out_of_history_and_come_back_from_replies(
    client: WebClient,
) -> None:
    parent = client.chat_postMessage(channel="C1", text="post", metadata=METADATA)["ts"]
    reply = client.chat_postMessage(channel="C1", text="reply", thread_ts=parent)["ts"]
    client.chat_postMessage(channel="C1", text="later")

    history = client.conversations_history(channel="C1")["messages"]
    thread = client.conversations_replies(channel="C1", ts=parent, include_all_metadata=True)

    assert [m["text"] for m in history] == ["later", "post"]
    assert [m["ts"] for m in thread["messages"]] == [parent, reply]
    assert thread["messages"][0]["metadata"] == METADATA
    assert (
        slack_error(client.conversations_replies, channel="C1", ts="1.0").response["error"]
        == "thread_not_found"
    )


def test_delete_removes_a_message_once(slack: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="going")["ts"]

    client.chat_delete(channel="C1", ts=ts)

    assert slack.messages("C1") == []
    assert slack_error(client.chat_delete, channel="C1", ts=ts).response["error"] == (
        "message_not_found"
    )


def test_the_apps_http_answers_to_slack_are_checked_too(slack: FakeSlack) -> None:
    too_long = json.dumps({"text": "t", "blocks": [section("s" * 3000)] * 5}).encode()

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [too_long if environ["PATH_INFO"] == "/slack/events" else b"{}"]

    checked = read_by_slack(app, slack)
    for path in ("/healthz", "/slack/events"):
        body = b"".join(checked({"PATH_INFO": path}, lambda *args: None))

    assert body == too_long, "the answer itself is passed on unchanged"
    assert slack.refusals == [("http response", "msg_blocks_too_long")]
