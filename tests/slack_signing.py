"""Build signed requests the way Slack sends them to the app (slash commands, interactivity)."""

import json
import time
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The X-Slack-Signature / X-Slack-Request-Timestamp headers for `body` (now by default)."""
    timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp_text, body=body)
    if signature is None:  # only happens without a timestamp, which we always pass
        raise ValueError("could not sign the request")
    return {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": timestamp_text}


def slash_command_body(
    command: str,
    text: str,
    *,
    channel_id: str,
    channel_name: str = "general",
    user_id: str = "U123",
    team_id: str = "T0FAKE",
    response_url: str,
    trigger_id: str = "1.2.3",
) -> bytes:
    fields = {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "fake-team",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": f"user-{user_id.lower()}",
        "command": command,
        "text": text,
        "api_app_id": "A0FAKE",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urlencode(fields).encode()


def block_actions_body(payload: dict[str, object]) -> bytes:
    """Interactivity requests carry the JSON payload in a single `payload` form field."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def interactive_body(payload: dict[str, object]) -> bytes:
    """view_submission, block_suggestion: the same single `payload` form field as block_actions."""
    return block_actions_body(payload)


def event_body(event: dict[str, object], *, event_id: str = "Ev0001") -> bytes:
    """An Events API callback (JSON), e.g. app_home_opened."""
    envelope = {
        "token": "legacy-verification-token",
        "team_id": "T0FAKE",
        "api_app_id": "A0FAKE",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
    }
    return json.dumps(envelope).encode()
