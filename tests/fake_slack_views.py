"""The fake workspace's views (modals, home tabs) and users, checked the way Slack checks them."""

import itertools
import json
import threading
from typing import Any

from slack_sdk.models.views import View

JsonDict = dict[str, Any]
MAX_VIEW_BLOCKS = 100
MAX_PUBLISH_BYTES = 250_000
EXPIRED_TRIGGER = "expired-trigger"


class ViewError(Exception):
    """Becomes {"ok": false, "error": ...}; same shape as fake_slack_state.SlackError."""


def view_problem(view: Any) -> str | None:
    """Why Slack would refuse this view, or None."""
    if not isinstance(view, dict):
        return "invalid_arguments"
    try:
        View(**view).validate_json()
    except Exception as error:  # every way the SDK model refuses a view, Slack would too
        return f"invalid_arguments: {error}"
    if len(view.get("blocks", [])) > MAX_VIEW_BLOCKS:
        return "invalid_arguments: more than 100 blocks"
    action_ids = [
        element["action_id"]
        for block in view.get("blocks", [])
        for element in [
            block.get("element") or {},
            block.get("accessory") or {},
            *block.get("elements", []),
        ]
        if isinstance(element, dict) and element.get("action_id")
    ]
    if len(action_ids) != len(set(action_ids)):
        return "invalid_arguments: duplicate action_id"
    return None


class Views:
    """views.open / update / publish of the fake workspace (its people are SlackState's)."""

    _lock: threading.Condition

    def _init_views(self) -> None:
        self._modals: dict[str, JsonDict] = {}
        self._homes: dict[str, JsonDict] = {}
        self._users: dict[str, JsonDict] = {}  # SlackState's people (add_user)
        self._view_ids = itertools.count(1)

    # Asserted on by tests.
    def home(self, user_id: str) -> JsonDict | None:
        with self._lock:
            return self._homes.get(user_id)

    def modal(self, view_id: str) -> JsonDict:
        with self._lock:
            return self._modals[view_id]

    # The Web API methods.
    def _api_views_open(self, params: JsonDict) -> JsonDict:
        if not params.get("trigger_id") or params["trigger_id"] == EXPIRED_TRIGGER:
            raise ViewError("expired_trigger_id")
        return {"view": self._store_modal(f"V{next(self._view_ids):06d}", params.get("view"))}

    def _api_views_update(self, params: JsonDict) -> JsonDict:
        view_id = str(params.get("view_id") or "")
        current = self._modals.get(view_id)
        if current is None:
            raise ViewError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise ViewError("hash_conflict")
        return {"view": self._store_modal(view_id, params.get("view"))}

    def _api_views_publish(self, params: JsonDict) -> JsonDict:
        view = params.get("view")
        if problem := view_problem(view):
            raise ViewError(problem)
        if view.get("type") != "home":
            raise ViewError("invalid_arguments: a published view must be of type home")
        if len(json.dumps(view).encode()) > MAX_PUBLISH_BYTES:
            raise ViewError("view_too_large")
        user_id = str(params.get("user_id") or "")
        if user_id not in self._users:
            raise ViewError("user_not_found")
        self._homes[user_id] = stored = {**view, "id": f"VH{user_id}", "hash": _hash()}
        return {"view": stored}

    def _store_modal(self, view_id: str, view: Any) -> JsonDict:
        if problem := view_problem(view):
            raise ViewError(problem)
        if view.get("type") != "modal":
            raise ViewError("invalid_arguments: not a modal")
        self._modals[view_id] = stored = {
            **view,
            "id": view_id,
            "hash": _hash(),
            "state": {"values": {}},
        }
        return stored


_hashes = itertools.count(1)


def _hash() -> str:
    return f"{next(_hashes)}.hash"
