"""Everything stored about one user, as one JSON document (the profile page's "Download my data").

Streamed section by section, a few queries in all however many places and predictions there
are, so that a long history never sits in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from accounts.models import HealthProfile
from forecast.models import ComparisonReport, Location, Notification, Prediction, WeatherForecast

FORMAT = "migraine-forecast-export/1"


def _dumps(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _array(rows) -> Iterator[str]:
    yield "["
    for index, row in enumerate(rows):
        yield ("," if index else "") + "\n    " + _dumps(row)
    yield "\n  ]"


def _fields(model, *exclude: str) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if f.attname not in exclude]


def sections(user) -> list[tuple[str, object]]:
    """(key, value) pairs of the document; querysets are written as arrays, row by row."""
    profile = HealthProfile.objects.filter(user=user).values(*_fields(HealthProfile, "id", "user_id")).first()
    return [
        ("format", FORMAT),
        ("exported_at", timezone.now()),
        (
            "account",
            {
                "username": user.get_username(),
                "email": user.email,
                "date_joined": user.date_joined,
                "last_login": user.last_login,
            },
        ),
        ("health_profile", profile),
        ("locations", Location.owned_by(user).order_by("pk").values(*_fields(Location, "user_id"))),
        (
            "weather_forecasts",
            WeatherForecast.objects.filter(location__user=user)
            .order_by("location_id", "target_time")
            .values(*_fields(WeatherForecast, "id")),
        ),
        (
            "predictions",
            Prediction.objects.filter(location__user=user)
            .order_by("location_id", "window_start", "prediction_type")
            .values(*_fields(Prediction)),
        ),
        (
            "notifications",
            Notification.objects.filter(user=user).order_by("sent_at").values(*_fields(Notification, "user_id")),
        ),
        (
            "notified_predictions",
            Notification.predictions.through.objects.filter(notification__user=user)
            .order_by("notification_id", "prediction_id")
            .values("notification_id", "prediction_id"),
        ),
        (
            "comparison_reports",
            ComparisonReport.objects.filter(location__user=user)
            .order_by("location_id", "period_end")
            .values(*_fields(ComparisonReport, "id")),
        ),
    ]


def user_data_json(user) -> Iterator[str]:
    """The document, in pieces for a StreamingHttpResponse."""
    yield "{"
    for index, (key, value) in enumerate(sections(user)):
        yield ("," if index else "") + f"\n  {_dumps(key)}: "
        if hasattr(value, "iterator"):
            yield from _array(value.iterator(chunk_size=500))
        else:
            yield _dumps(value)
    yield "\n}\n"
