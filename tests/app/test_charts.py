"""The place page's chart: each quantity on its own labelled axis, local hours, now and risk windows."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from forecast import charts
from forecast.models import Prediction, WeatherForecast

START = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
BERLIN = ZoneInfo("Europe/Berlin")


def hours(pressures, temperatures=None, rain=None):
    count = len(pressures)
    return [
        WeatherForecast(
            target_time=START + timedelta(hours=n),
            pressure_msl=pressures[n],
            temperature=(temperatures or [12.0] * count)[n],
            humidity=60,
            precipitation=(rain or [0.0] * count)[n],
            fetched_at=START,
        )
        for n in range(count)
    ]


def prediction(level, start_in, length=3, kind="MIGRAINE"):
    return Prediction(
        prediction_type=kind,
        risk_level=level,
        window_start=START + timedelta(hours=start_in),
        window_end=START + timedelta(hours=start_in + length),
        source="rules",
        confidence=0.8,
    )


def panel(chart, key):
    return next(p for p in chart.panels if p.key == key)


def plotted_y(panel):
    return [float(point.split(",")[1]) for point in panel.line.split()]


def test_a_steady_pressure_is_drawn_mid_panel_not_along_the_bottom():
    chart = charts.forecast_chart(hours([1016.0] * 48), [], START, BERLIN)
    pressure = panel(chart, "pressure")
    ys = plotted_y(pressure)
    top, bottom = pressure.ticks[-1].y, pressure.ticks[0].y
    assert len(set(ys)) == 1 and top < ys[0] < bottom
    assert top + (bottom - top) * 0.2 < ys[0] < bottom - (bottom - top) * 0.2
    assert [t.label for t in pressure.ticks] == ["1005 hPa", "1010 hPa", "1015 hPa", "1020 hPa"]
    # "Normal" sea-level pressure is always on the axis, as a reference line.
    assert pressure.reference.label == "normal 1013 hPa" and top < pressure.reference.y < bottom


def test_each_quantity_has_its_own_axis_so_parallel_falls_do_not_overlap():
    falling = [1016 - n for n in range(48)]
    chart = charts.forecast_chart(hours(falling, temperatures=[10 - n * 0.1 for n in range(48)]), [], START, BERLIN)
    pressure, temperature = panel(chart, "pressure"), panel(chart, "temperature")
    assert pressure.ticks[0].label.endswith(" hPa") and temperature.ticks[0].label.endswith(" °C")
    assert float(temperature.ticks[0].label.split()[0].replace("−", "-")) <= 10 - 47 * 0.1
    assert float(temperature.ticks[-1].label.split()[0].replace("−", "-")) >= 10
    assert [t.label for t in panel(chart, "rain").ticks][-1].endswith(" mm")
    # The temperature's labels use its own range, not the pressure's.
    assert not any(t.label.startswith("1000") for t in temperature.ticks)


def test_time_axis_in_local_time_with_days_and_now():
    chart = charts.forecast_chart(hours([1016.0] * 48), [], START + timedelta(minutes=30), BERLIN)
    labels = [t.label for t in chart.time_ticks]
    assert labels[:4] == ["12:00", "18:00", "Sun", "06:00"]  # Berlin is UTC+1 in November
    assert [t.minor for t in chart.time_ticks[:4]] == [False, True, False, True]
    assert chart.start == START.astimezone(BERLIN) and chart.hours == 48
    assert 0 < chart.now_x < 2


def test_risk_windows_are_shaded_with_the_highest_level_for_their_hours():
    predictions = [prediction("MEDIUM", 3), prediction("HIGH", 3, kind="SINUSITIS"), prediction("LOW", 40)]
    chart = charts.forecast_chart(hours([1016.0] * 48), predictions, START, BERLIN)
    first, second = chart.windows
    assert first.level == "high" and first.label == "Sat 10:00–13:00: migraine medium, sinusitis high"
    assert first.x == pytest.approx(3 / 47 * 100, abs=0.01) and first.width == pytest.approx(3 / 47 * 100, abs=0.01)
    assert second.level == "low"


def test_summaries_say_the_chart_in_words():
    chart = charts.forecast_chart(hours([1012 - n for n in range(48)], rain=[0.0] * 10 + [2.0] * 38), [], START, BERLIN)
    assert panel(chart, "pressure").summary.startswith("Air pressure: 1012 hPa now, 965 hPa at Mon 06:00;")
    assert panel(chart, "rain").summary == (
        "Rain and snow: 76.0 mm in all, in 38 of 48 hours, most 2.0 mm in an hour; first at Sat 17:00."
    )


def test_no_chart_from_fewer_than_two_hours():
    assert charts.forecast_chart(hours([1016.0]), [], START, BERLIN) is None
