"""What GlitchTip reads into an ingested event: title, culprit, metadata, tags, stored data.

Follows apps/event_ingest/process_event.py and the vendored legacy Sentry helpers (error
metadata, culprit), reduced to what an SDK's JSON payload can contain.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from .wire import jsonb, without_nulls

MAX_TITLE = 100
MAX_CULPRIT = 200
MAX_TAG_LENGTH = 255
LEVELS = ("sample", "debug", "info", "warning", "error", "fatal")
# Keys of the payload kept in the stored event data (process_issue_events' model_dump include).
STORED_KEYS = ("platform", "modules", "sdk", "request", "environment", "extra", "user", "exception",
               "breadcrumbs", "errors")
USER_FIELDS = ("id", "username", "email", "ip_address", "data", "geo")
# Contexts with a schema: they get a "type" and lose unknown or null fields (None: keep all fields).
TYPED_CONTEXTS = {
    "trace": ("trace_id", "span_id", "parent_span_id", "op", "status", "exclusive_time", "client_sample_rate",
              "tags", "dynamic_sampling_context", "origin"),
    "runtime": ("name", "version", "raw_description"),
    "os": ("name", "version", "build", "kernel_version", "rooted", "theme", "raw_description"),
    "browser": ("name", "version"),
    "device": None, "app": None, "gpu": None, "state": None, "culture": None, "cloud_resource": None,
    "replay": None, "response": None,
}


@dataclass
class Interpretation:
    type: str  # "error" or "default"
    level: str | None
    title: str
    culprit: str
    metadata: dict  # the issue's; the event falls back to {"title": ...} when empty
    grouping: str
    tags: dict[str, str]
    data: dict  # as stored in the event's jsonb column
    search_text: str


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
    fingerprint = payload.get("fingerprint")
    default_grouping = title + culprit + kind
    grouping = ("".join(default_grouping if part == "{{ default }}" else str(part or "") for part in fingerprint)
                if fingerprint else default_grouping)
    level = payload.get("level") if payload.get("level") in LEVELS else None
    return Interpretation(kind, level, title, culprit, metadata, grouping, generate_tags(payload),
                          stored_data(payload, title, full_title, metadata), search_text(payload, title, culprit))


def stored_data(payload: dict, title: str, full_title: str, metadata: dict) -> dict:
    data = {key: payload[key] for key in STORED_KEYS if payload.get(key) not in (None, {}, [])}
    if isinstance(data.get("exception"), list):  # the old list form
        data["exception"] = {"values": data["exception"]}
    if isinstance(data.get("breadcrumbs"), list):
        data["breadcrumbs"] = {"values": data["breadcrumbs"]}
    if "user" in data:  # known fields only, numbers as strings (pydantic's coerce_numbers_to_str)
        user = data["user"] if isinstance(data["user"], dict) else {}
        data["user"] = {name: str(value) if isinstance(value, (int, float)) and name != "data" else value
                        for name, value in user.items() if name in USER_FIELDS}
    if "request" in data:
        data["request"] = normalize_request(data["request"] if isinstance(data["request"], dict) else {})
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
            value = {"type": name, **{key: item for key, item in value.items()
                                      if item is not None and (fields is None or key in fields)}}
        result[name] = value
    return result


def normalize_request(request: dict) -> dict:
    """Headers and query string as sorted [key, value] pairs (an empty Cookie header dropped)."""
    result = dict(request)
    for key in ("headers", "query_string"):
        value = result.get(key)
        if isinstance(value, str) and value:
            pairs = [[name, item] for name, items in parse_qs(value).items() for item in items]
        elif isinstance(value, dict):
            pairs = [[name, item[0] if isinstance(item, list) else item] for name, item in value.items()]
        elif isinstance(value, list):
            pairs = [list(item[:2]) for item in value if len(item) >= 2]
        else:
            continue
        result[key] = sorted((pair for pair in pairs if pair != ["Cookie", ""]),
                             key=lambda pair: (str(pair[0]), str(pair[1])))
    return result


def error_metadata(payload: dict) -> dict:
    """Legacy Sentry's ErrorEvent.get_metadata: the last exception and where it crashed."""
    values = exception_values(payload)
    if not values or not isinstance(values[-1], dict):
        return {}
    exception = values[-1]
    metadata = {"value": str(exception.get("value") or "")[:1024]}
    if not (exception.get("mechanism") or {}).get("synthetic"):
        metadata["type"] = str(exception.get("type") or "Error")[:128]
    frame = crash_frame(exception)
    if frame is not None:
        if filename := frame.get("filename") or frame.get("abs_path"):
            metadata["filename"] = filename
        if function := frame.get("function"):
            metadata["function"] = function
    return metadata


def error_title(metadata: dict) -> str:
    if "type" not in metadata:
        return metadata.get("function") or "<unknown>"
    if not metadata.get("value"):
        return metadata["type"]
    return f"{metadata['type']}: {truncate(metadata['value'].splitlines()[0], MAX_TITLE)}"


def format_message(message) -> str:
    """A message string, or the Sentry message interface with %-style or {}-style params."""
    if isinstance(message, str):
        return message
    if not message.get("formatted") and message.get("message"):
        params = message.get("params")
        try:
            if isinstance(params, list) and params:
                return message["message"] % tuple(params)
            if isinstance(params, dict):
                return message["message"].format(**params)
        except (TypeError, ValueError, KeyError, IndexError):
            pass
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
    """Legacy Sentry's culprit: "module in function" of the crash frame, else the request URL."""
    values = exception_values(payload)
    if values and (values[-1].get("mechanism") or {}).get("synthetic"):
        return ""
    stacktraces = [frames_of(value) for value in values if frames_of(value)]
    if not values and (payload.get("stacktrace") or {}).get("frames"):
        stacktraces = [payload["stacktrace"]["frames"]]
    if stacktraces:
        frames = stacktraces[-1]
        in_app = [frame_culprit(frame, payload.get("platform")) for frame in reversed(frames) if frame.get("in_app")]
        other = [frame_culprit(frame, payload.get("platform")) for frame in reversed(frames) if not frame.get("in_app")]
        culprit = next((text for text in in_app if text), other[0] if other else None)
        if culprit:
            return culprit
    return (payload.get("request") or {}).get("url") or ""


def frame_culprit(frame: dict, platform: str | None) -> str:
    platform = frame.get("platform") or platform
    if platform in ("objc", "cocoa", "native"):
        return frame.get("function") or "?"
    location = frame.get("module") or frame.get("filename")
    if not location:
        return ""
    if platform in ("javascript", "node"):
        return f"{frame.get('function') or '?'}({location})"
    return f"{location} in {frame.get('function') or '?'}"


def generate_tags(payload: dict) -> dict[str, str]:
    """The event's tags plus those GlitchTip derives (user, environment, release, server name)."""
    tags = dict(payload["tags"]) if isinstance(payload.get("tags"), dict) else {}
    contexts = payload.get("contexts") if isinstance(payload.get("contexts"), dict) else {}
    if isinstance(browser := contexts.get("browser"), dict) and browser.get("name"):
        tags["browser.name"] = browser["name"]
        tags["browser"] = f"{browser['name']} {browser.get('version')}"
    if isinstance(os_context := contexts.get("os"), dict) and os_context.get("name"):
        tags["os.name"] = os_context["name"]
    if isinstance(device := contexts.get("device"), dict) and device.get("model"):
        tags["device"] = device["model"]
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    for field in ("id", "email", "username"):
        if user.get(field):
            tags[f"user.{field}"] = user[field]
    for field in ("environment", "release", "server_name"):
        if payload.get(field):
            tags[field] = payload[field]
    return jsonb({key: str(value)[:MAX_TAG_LENGTH] for key, value in tags.items() if value})


def search_text(payload: dict, title: str, culprit: str) -> str:
    """What the issue's full-text search vector is built from: title, culprit, URL, file names."""
    parts = {title, culprit}
    if url := (payload.get("request") or {}).get("url"):
        split = urlsplit(url)
        parts.add(f"{split.scheme}://{split.netloc}{split.path}" if split.netloc else split.path)
    filenames = []
    for exception in [value for value in exception_values(payload) if frames_of(value)][:2]:
        filenames += [os.path.basename(frame["filename"]) for frame in reversed(frames_of(exception))
                      if frame.get("filename")][:3]
    parts.update(filenames[:5])
    return " ".join(sorted(part for part in parts if part))


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
            return datetime.fromtimestamp(value, timezone.utc)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        pass
    return default
