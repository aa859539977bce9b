"""What GlitchTip reads into an ingested event (title, culprit, metadata, tags, stored data), and how it
shows the event again (the event detail the smoke test reads). Follows apps/event_ingest/process_event.py and
legacy Sentry's helpers for what the Python SDK sends; length limits (titles, culprits, tags) are left out."""

from __future__ import annotations

import copy
import json
import uuid

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from .state import IssueEvent

# Keys of the payload kept in the stored event data (process_issue_events' model_dump include).
STORED_KEYS = ("platform", "modules", "sdk", "environment", "extra", "user", "exception", "breadcrumbs", "errors")


def interpret(payload: dict) -> tuple[str, dict]:
    """The event's grouping (events with the same one become one issue: the fingerprint, else GlitchTip's
    default) and the IssueEvent fields read from it: type ("error" or "default"), title, culprit, tags, data."""
    if metadata := error_metadata(payload):
        title = metadata["type"] + (f": {metadata['value'].splitlines()[0]}" if metadata["value"] else "")
    else:
        title = payload.get("message") or (payload.get("logentry") or {}).get("formatted") or "<untitled>"
    kind = "error" if payload.get("exception") else "default"
    culprit = str(payload.get("culprit") or payload.get("transaction") or generate_culprit(payload))
    # GlitchTip's generate_hash input: the fingerprint joined, "{{ default }}" standing for the default grouping.
    grouping = "".join(
        title + culprit + kind if part == "{{ default }}" else part or ""
        for part in payload.get("fingerprint") or ["{{ default }}"]
    )
    data = {key: payload[key] for key in STORED_KEYS if payload.get(key) not in (None, {}, [])}
    if metadata:
        data["metadata"] = metadata
    if logentry := payload.get("logentry"):
        data["logentry"] = {key: logentry.get(key) for key in ("formatted", "message", "params")}
    elif payload.get("message"):
        data["logentry"] = {"formatted": payload["message"]}
    if payload.get("message"):
        data["message"] = payload["message"]
    if contexts := payload.get("contexts"):
        trace = contexts.get("trace")  # the one context with a schema, whose type is set
        data["contexts"] = {**contexts, "trace": {"type": "trace", **trace}} if isinstance(trace, dict) else contexts
    found = dict(type=kind, title=title, culprit=culprit, tags=generate_tags(payload), data=without_nulls(data))
    return grouping, found


def error_metadata(payload: dict) -> dict:
    """Legacy Sentry's ErrorEvent.get_metadata: the last exception and where it crashed."""
    values = exception_values(payload)
    if not values:
        return {}
    metadata = {"value": str(values[-1].get("value") or ""), "type": str(values[-1].get("type") or "Error")}
    # The crash frame: the innermost in-app frame with a function name, else the innermost such frame.
    candidates = [
        frame
        for frame in reversed(frames_of(values[-1]))
        if frame.get("function") not in (None, "<redacted>", "<unknown>")
    ]
    frame = next((frame for frame in candidates if frame.get("in_app")), candidates[0] if candidates else {})
    found = {"filename": frame.get("filename") or frame.get("abs_path"), "function": frame.get("function")}
    return {**metadata, **{key: value for key, value in found.items() if value}}


def exception_values(payload: dict) -> list[dict]:
    return [value for value in (payload.get("exception") or {}).get("values") or [] if value]


def frames_of(exception: dict) -> list[dict]:
    return [frame for frame in ((exception.get("stacktrace") or {}).get("frames") or []) if frame]


def generate_culprit(payload: dict) -> str:
    """Legacy Sentry's culprit: "module in function" of the innermost in-app frame, else of the innermost frame."""
    stacktraces = [frames_of(value) for value in exception_values(payload) if frames_of(value)]
    frames = list(reversed(stacktraces[-1])) if stacktraces else []
    for frame in sorted(frames, key=lambda frame: not frame.get("in_app")):  # stable: in-app ones first
        if location := frame.get("module") or frame.get("filename"):
            return f"{location} in {frame.get('function') or '?'}"
    return ""


def generate_tags(payload: dict) -> dict[str, str]:
    """The event's tags plus those GlitchTip derives (user, environment, release, server name), in jsonb's
    key order (shorter keys first, then bytewise), which is the order the event's tag list comes back in."""
    tags = dict(payload.get("tags") or {})
    user = payload.get("user") or {}
    tags.update({f"user.{field}": user[field] for field in ("id", "email", "username") if user.get(field)})
    tags.update({field: payload[field] for field in ("environment", "release", "server_name") if payload.get(field)})
    return {key: str(tags[key]) for key in sorted(tags, key=lambda k: (len(k.encode()), k.encode())) if tags[key]}


def detail(item: IssueEvent, previous: IssueEvent | None, following: IssueEvent | None) -> dict:
    """The event detail (camelCase), with the ids of its neighbours in the project."""
    data = item.data
    return {
        **{key: data.get(key) for key in ("platform", "errors", "contexts", "user", "sdk")},
        "id": item.id,
        "eventID": item.id,
        "projectID": item.issue.project.id,
        "groupID": str(item.issue.id),
        "dateCreated": item.timestamp,
        "dateReceived": item.received,
        "dist": None,
        "culprit": item.culprit,
        "packages": data.get("modules"),
        "type": item.type,
        "message": data.get("message", item.title),
        "metadata": data.get("metadata", {"title": item.title}),
        "tags": [{"key": key, "value": value} for key, value in item.tags.items()],
        "entries": entries(data),
        "context": data.get("extra"),
        "title": item.title,
        "userReport": None,
        "nextEventID": following.id if following else None,
        "previousEventID": previous.id if previous else None,
    }


def entries(data: dict) -> list[dict]:
    """The event's interfaces as GlitchTip's get_entries lays them out for the UI."""
    result = []
    if exception := data.get("exception"):
        result.append({"type": "exception", "data": exception_entry(exception)})
    if breadcrumbs := data.get("breadcrumbs"):
        result.append(
            {"type": "breadcrumbs", "data": {"values": [breadcrumb(crumb) for crumb in breadcrumbs["values"]]}}
        )
    if logentry := data.get("logentry"):
        result.append({"type": "message", "data": logentry})
    return result


def breadcrumb(crumb: dict) -> dict:
    return {
        **{key: crumb.get(key) for key in ("category", "message", "data")},
        "type": crumb.get("type") or "default",
        "level": crumb.get("level", "info"),
        "event_id": None,
        "timestamp": parse_time(crumb.get("timestamp"), None),
    }


def exception_entry(exception: dict) -> dict:
    """Frames get camelCase keys and a `context` of [line number, line] pairs (legacy Sentry's get_context).

    `hasSystemFrames` is true when any frame is in-app: GlitchTip's naming, not a typo here.
    """
    exception = {**copy.deepcopy(exception), "hasSystemFrames": False}
    for frame in (frame for value in exception.get("values", []) for frame in frames_of(value)):
        exception["hasSystemFrames"] |= frame.get("in_app") is True
        for old, new in (("in_app", "inApp"), ("abs_path", "absPath"), ("colno", "colNo"), ("lineno", "lineNo")):
            if old in frame:
                frame[new] = frame.pop(old)
        if "lineNo" in frame:
            before, after = frame.pop("pre_context", None) or [], frame.pop("post_context", None) or []
            line = frame.get("context_line")
            lines = [*before, line, *after] if line is not None or before or after else []
            frame.setdefault("context", [[frame["lineNo"] - len(before) + n, text] for n, text in enumerate(lines)])
    return exception


def without_nulls(data: dict) -> dict:
    """Without None members, however deep (pydantic's exclude_none on stored event data)."""
    return json.loads(json.dumps(data), object_hook=lambda members: {k: v for k, v in members.items() if v is not None})


def event_id_hex(value) -> str | None:
    """An event id (dashed UUID or 32 hex digits) as 32 hex digits; None if it is not one."""
    try:
        return uuid.UUID(str(value)).hex if value else None
    except ValueError:
        return None


def parse_time(value, default):
    """An SDK timestamp (RFC 3339 text or Unix seconds) as an aware datetime, as pydantic reads it."""
    try:
        return TypeAdapter(AwareDatetime).validate_python(value)
    except ValidationError:
        return default
