"""What GlitchTip reads into an ingested event: title, culprit, metadata, tags, stored data.

Follows apps/event_ingest/process_event.py and the vendored legacy Sentry helpers (error
metadata, culprit), reduced to what the Python SDK sends: the recording's events and the
scripts' are Python events, so other platforms' culprit rules are left out.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from .wire import jsonb, without_nulls

MAX_TITLE = 100
MAX_CULPRIT = 200
MAX_TAG_LENGTH = 255
LEVELS = ("sample", "debug", "info", "warning", "error", "fatal")
# Keys of the payload kept in the stored event data (process_issue_events' model_dump include).
STORED_KEYS = ("platform", "modules", "sdk", "environment", "extra", "user", "exception", "breadcrumbs", "errors")
USER_FIELDS = ("id", "username", "email", "ip_address", "data", "geo")
# Contexts with a schema (those the Python SDK sends): they get a "type" and lose unknown or null fields.
TYPED_CONTEXTS = {
    "trace": ("trace_id", "span_id", "parent_span_id", "op", "status", "exclusive_time", "client_sample_rate",
              "tags", "dynamic_sampling_context", "origin"),
    "runtime": ("name", "version", "raw_description"),
}


@dataclass
class Interpretation:
    type: str  # "error" or "default"
    level: str | None
    title: str
    culprit: str
    metadata: dict  # the issue's; the event falls back to {"title": ...} when empty
    grouping: str  # events with the same one become one issue (the fingerprint, else GlitchTip's default)
    tags: dict[str, str]
    data: dict  # as stored in the event's jsonb column
    search_text: str  # what the issue search matches words against


def interpret(payload: dict) -> Interpretation:
    kind = "error" if payload.get("exception") else "default"
    metadata = jsonb(error_metadata(payload))
    if kind == "error" and metadata:
        full_title = error_title(metadata)
    else:
        message = payload.get("message") or payload.get("logentry")
        full_title = format_message(message) if message else "<untitled>"
    title = truncate(full_title, MAX_TITLE)
    culprit = truncate(str(payload.get("culprit") or payload.get("transaction") or generate_culprit(payload)),
                       MAX_CULPRIT)
    level = payload.get("level") if payload.get("level") in LEVELS else None
    return Interpretation(kind, level, title, culprit, metadata, grouping(payload, title + culprit + kind),
                          generate_tags(payload), stored_data(payload, title, full_title, metadata),
                          f"{title} {culprit}")


def grouping(payload: dict, default: str) -> str:
    """GlitchTip's generate_hash input: the event's fingerprint joined, "{{ default }}" standing for
    the default grouping (title, culprit and type); without a fingerprint the default alone."""
    fingerprint = payload.get("fingerprint")
    if not fingerprint:
        return default
    return "".join(default if part == "{{ default }}" else (part or "") for part in fingerprint)


def stored_data(payload: dict, title: str, full_title: str, metadata: dict) -> dict:
    data = {key: payload[key] for key in STORED_KEYS if payload.get(key) not in (None, {}, [])}
    if "user" in data:  # known fields only, numbers as strings (pydantic's coerce_numbers_to_str)
        user = data["user"] if isinstance(data["user"], dict) else {}
        data["user"] = {name: str(value) if isinstance(value, (int, float)) and name != "data" else value
                        for name, value in user.items() if name in USER_FIELDS}
    if metadata:
        data["metadata"] = metadata
    message = payload.get("message")
    if logentry := payload.get("logentry"):
        data["logentry"] = {key: logentry.get(key) for key in ("formatted", "message", "params")}
    elif message:
        data["logentry"] = {"formatted": message} if isinstance(message, str) else message
    if message:
        data["message"] = (message if isinstance(message, str) else message.get("formatted")) or full_title
    elif title != full_title:
        data["message"] = full_title  # keep the untruncated title
    if contexts := payload.get("contexts"):
        data["contexts"] = normalize_contexts(contexts)
    return jsonb(without_nulls(data))


def normalize_contexts(contexts: dict) -> dict:
    """Known contexts get their "type" (and lose unknown/null fields); the rest stay as sent."""
    if not all(isinstance(value, dict) for value in contexts.values()):
        return contexts
    result = {}
    for name, value in contexts.items():
        if name in TYPED_CONTEXTS and "type" not in value:
            fields = TYPED_CONTEXTS[name]
            value = {"type": name, **{key: item for key, item in value.items() if item is not None and key in fields}}
        result[name] = value
    return result


def error_metadata(payload: dict) -> dict:
    """Legacy Sentry's ErrorEvent.get_metadata: the last exception and where it crashed."""
    values = exception_values(payload)
    if not values or not isinstance(values[-1], dict):
        return {}
    exception = values[-1]
    metadata = {"value": str(exception.get("value") or "")[:1024], "type": str(exception.get("type") or "Error")[:128]}
    frame = crash_frame(exception)
    if frame is not None:
        if filename := frame.get("filename") or frame.get("abs_path"):
            metadata["filename"] = filename
        if function := frame.get("function"):
            metadata["function"] = function
    return metadata


def error_title(metadata: dict) -> str:
    if not metadata.get("value"):
        return metadata["type"]
    return f"{metadata['type']}: {truncate(metadata['value'].splitlines()[0], MAX_TITLE)}"


def format_message(message) -> str:
    """A message string, or the Sentry message interface (a logging call's %-style params)."""
    if isinstance(message, str):
        return message
    if not message.get("formatted") and message.get("message"):
        try:
            return message["message"] % tuple(message.get("params") or ())
        except (TypeError, ValueError):
            return message["message"]
    return message.get("formatted") or "<untitled>"


def exception_values(payload: dict) -> list:
    exception = payload.get("exception")
    if isinstance(exception, dict):
        exception = exception.get("values")
    return [value for value in exception or [] if value]


def frames_of(exception: dict) -> list[dict]:
    return [frame for frame in ((exception.get("stacktrace") or {}).get("frames") or []) if frame]


def crash_frame(exception: dict) -> dict | None:
    """The innermost in-app frame with a function name, else the innermost such frame."""
    candidates = [frame for frame in reversed(frames_of(exception))
                  if frame.get("function") not in (None, "<redacted>", "<unknown>")]
    return next((frame for frame in candidates if frame.get("in_app")), candidates[0] if candidates else None)


def generate_culprit(payload: dict) -> str:
    """Legacy Sentry's culprit: "module in function" of the innermost in-app frame, else of the
    innermost frame."""
    stacktraces = [frames_of(value) for value in exception_values(payload) if frames_of(value)]
    frames = list(reversed(stacktraces[-1])) if stacktraces else []
    ranked = [frame for frame in frames if frame.get("in_app")] + [frame for frame in frames if not frame.get("in_app")]
    return next((frame_culprit(frame) for frame in ranked if frame_culprit(frame)), "")


def frame_culprit(frame: dict) -> str:
    location = frame.get("module") or frame.get("filename")
    return f"{location} in {frame.get('function') or '?'}" if location else ""


def generate_tags(payload: dict) -> dict[str, str]:
    """The event's tags plus those GlitchTip derives (user, environment, release, server name)."""
    tags = dict(payload["tags"]) if isinstance(payload.get("tags"), dict) else {}
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    for field in ("id", "email", "username"):
        if user.get(field):
            tags[f"user.{field}"] = user[field]
    for field in ("environment", "release", "server_name"):
        if payload.get(field):
            tags[field] = payload[field]
    return jsonb({key: str(value)[:MAX_TAG_LENGTH] for key, value in tags.items() if value})


def event_id_hex(value) -> str | None:
    """An event id (dashed UUID or 32 hex digits) as 32 hex digits; None if it is not one."""
    try:
        return uuid.UUID(str(value)).hex if value else None
    except ValueError:
        return None


def truncate(text: str, length: int) -> str:
    return text[:length - 1] + "…" if len(text) > length else text


def parse_time(value, default: datetime) -> datetime:
    """An SDK timestamp (RFC 3339 text or Unix seconds) as an aware datetime."""
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        pass
    return default
