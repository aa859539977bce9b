"""Request bodies checked the way django-ninja (pydantic) does: 400 for bad JSON, 422 for bad fields."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.harness.http_fake import Request

from . import wire

REQUIRED = object()

# pydantic's error type and message per expected Python type.
TYPE_ERRORS = {
    str: ("string_type", "Input should be a valid string"),
    int: ("int_type", "Input should be a valid integer"),
    bool: ("bool_type", "Input should be a valid boolean"),
    list: ("list_type", "Input should be a valid list"),
}


@dataclass(frozen=True)
class Field:
    name: str
    type: type
    default: Any = REQUIRED
    nullable: bool = False


def payload(request: Request, *fields: Field) -> dict:
    """The JSON body reduced to `fields` (defaults filled in), or a Reply with ninja's error."""
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise wire.detail(400, "Cannot parse request body") from None
    if not isinstance(body, dict):
        raise wire.detail(422, [{
            "type": "model_attributes_type", "loc": ["body", "payload"],
            "msg": "Input should be a valid dictionary or object to extract fields from"}])
    values, errors = {}, []
    for spec in fields:
        if spec.name not in body:
            if spec.default is REQUIRED:
                errors.append(wire.field_error("body", spec.name, "missing", "Field required"))
            else:
                values[spec.name] = spec.default
            continue
        value = _coerce(body[spec.name], spec.type)
        if value is None and not (spec.nullable and body[spec.name] is None):
            errors.append(wire.field_error("body", spec.name, *TYPE_ERRORS[spec.type]))
        values[spec.name] = value
    if errors:
        raise wire.detail(422, errors)
    return values


def _coerce(value, expected: type):
    """pydantic's lax mode: numeric strings become integers; nothing becomes a string."""
    if expected is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value if isinstance(value, expected) else None
