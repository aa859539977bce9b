"""A prediction speaks of its own window: the "why" text, the numbers behind it and the alert
e-mail give the figures of the hours the prediction names (its first to its last hour), the
places' badges say which hours they cover, and the CSV gives each place's local times.

The harness's stormy weather has pressure falling 2 hPa an hour and the temperature 1.5 °C an
hour from now on; the default window is 3 to 6 hours ahead. From now to the window's end that is
12 hPa and 18 to 9 °C; within the window, 6 hPa and 13.5 to 9 °C."""

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from forecast.models import Location, Prediction
from tests.app.helpers import run_command
from tests.harness.open_meteo_fake import stormy_weather


@pytest.fixture
def stormy(location, open_meteo):
    Location.objects.filter(pk=location.pk).update(timezone="Europe/Berlin")
    open_meteo.weather = stormy_weather
    assert run_command("collect_weather_data")[0] == 0
    assert run_command("generate_predictions")[0] == 0
    return Prediction.objects.get(location=location, prediction_type="MIGRAINE")


def window_hours(prediction) -> list:
    return list(
        prediction.location.forecasts.filter(
            target_time__gte=prediction.window_start, target_time__lte=prediction.window_end
        ).order_by("target_time")
    )


def test_the_why_text_gives_the_figures_of_the_window(stormy):
    hours = window_hours(stormy)
    assert [h.target_time for h in hours] == [stormy.window_start + timedelta(hours=n) for n in range(4)]
    pressures = [h.pressure_msl for h in hours]
    assert max(pressures) - min(pressures) == 6
    assert "Air pressure falls by about 6\u00a0hPa" in stormy.rationale
    factors = {f["name"]: f for f in stormy.factors}
    assert factors["pressure"]["detail"] == "-6.0 hPa over the window (range 6.0 hPa)"
    assert factors["temperature"]["detail"] == "9 to 13.5 °C"
    assert "between 9 and 13.5\u00a0°C" in factors["temperature"]["plain"]
    assert "12\u00a0hPa" not in stormy.rationale and "18" not in factors["temperature"]["detail"]


def test_the_alert_email_gives_the_figures_of_the_window_it_names(stormy, smtp):
    status, output = run_command("process_notifications")
    assert status == 0, output
    (message,) = smtp.messages
    text = next(
        part.get_payload(decode=True).decode() for part in message.walk() if part.get_content_type() == "text/plain"
    )
    start = timezone.localtime(stormy.window_start, stormy.location.tz)
    end = timezone.localtime(stormy.window_end, stormy.location.tz)
    assert f"{start:%a %H:%M}-{end:%H:%M} {end.tzname()}" in text
    assert "Air pressure falls by about 6\u00a0hPa" in text and "12\u00a0hPa" not in text


def test_each_badge_says_which_hours_it_covers(logged_in, stormy):
    page = logged_in.get(reverse("forecast:location-list")).content.decode()
    start = timezone.localtime(stormy.window_start, stormy.location.tz)
    end = timezone.localtime(stormy.window_end, stormy.location.tz)
    badges = [
        re.sub(r"<[^>]+>", "", badge) for badge in re.findall(r'<span class="badge [^"]+">.*?</span></span>', page)
    ]
    assert f"Migraine: High, {start:%a %H:%M}–{end:%H:%M}" in badges


def test_csv_times_are_the_places_local_times_with_the_zone_named(logged_in, stormy):
    content = b"".join(logged_in.get(reverse("forecast:history-csv")).streaming_content).decode("utf-8-sig")
    header, *rows = csv.reader(io.StringIO(content))
    row = dict(zip(header, rows[0], strict=True))
    assert row["time_zone"] == "Europe/Berlin"
    start = datetime.fromisoformat(row["window_start"])
    assert start == stormy.window_start
    assert start.utcoffset() == timezone.localtime(stormy.window_start, stormy.location.tz).utcoffset() != timedelta(0)
