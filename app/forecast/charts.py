"""The place page's forecast chart: small multiples drawn as server-rendered SVG (no JavaScript).

One panel per quantity (air pressure, temperature, rain), each on its own y-axis with labelled
ticks and units, sharing the time axis: hours in the place's local time, "now" marked, the
hours that the current predictions cover shaded. The panels stretch to any width without
shrinking their text: the y-axis labels have their own narrow SVG beside the plot, positions
along the time axis are percentages of the plot's width, the lines are drawn in an inner,
horizontally stretched viewBox, and everything vertical is in pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from forecast.models import Prediction, RiskLevel

PLOT_HEIGHT = 120  # px of each panel's plot area; the time labels go below it
TOP = 10  # px above the highest tick line, so that its label (centred on the line) fits
INNER_WIDTH = 1000  # user units across the stretched inner viewBox
NORMAL_PRESSURE = 1013  # hPa, average sea-level pressure: always on the pressure axis, as a reference


@dataclass(frozen=True)
class Tick:
    y: float  # px from the top of the plot
    label: str

    @property
    def label_y(self) -> float:
        return self.y + 4  # the baseline that centres 12 px text on the line


@dataclass(frozen=True)
class TimeTick:
    x: float  # % of the width
    label: str
    day: bool  # local midnight, labelled with the weekday
    minor: bool  # 06:00 and 18:00, left out on a phone's narrow screen


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    unit: str
    ticks: list[Tick]
    line: str  # "x,y x,y ..." in the inner viewBox, for a line panel
    bars: list[tuple[float, float, float]]  # (x, y, height) in the inner viewBox, for a bar panel
    bar_width: float
    reference: Tick | None  # a dashed line for "normal", where the quantity has one
    summary: str  # the panel in words: its text alternative


@dataclass(frozen=True)
class Window:
    x: float  # % of the width
    width: float
    level: str  # the highest level among the predictions for these hours
    label: str


@dataclass(frozen=True)
class Chart:
    panels: list[Panel]
    time_ticks: list[TimeTick]
    now_x: float | None
    windows: list[Window]
    hours: int  # how many hours the chart spans, for its heading
    start: datetime  # first and last plotted hour, local time
    end: datetime
    plot_height: int = PLOT_HEIGHT
    inner_width: int = INNER_WIDTH

    @property
    def height(self) -> int:
        return self.plot_height + 24

    @property
    def time_label_y(self) -> int:
        return self.plot_height + 17


def _nice_step(span: float, target_ticks: int = 4) -> float:
    """1, 2 or 5 times a power of ten, giving about `target_ticks` ticks over `span`."""
    raw = span / target_ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


def _axis(low: float, high: float, min_span: float) -> tuple[float, float, float]:
    """(bottom, top, step) of a y-axis showing low..high, at least `min_span` wide, on round numbers.

    The minimum span keeps a steady value in the middle of the panel (a flat 1016 hPa is not
    drawn along the bottom edge as if it were low).
    """
    if high - low < min_span:
        middle = (high + low) / 2
        low, high = middle - min_span / 2, middle + min_span / 2
    step = _nice_step(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _format(value: float, step: float) -> str:
    decimals = 0 if step >= 1 else 1
    return f"{value:.{decimals}f}".replace("-", "−")


def _panel_scale(bottom: float, top: float):
    def y(value: float) -> float:
        return TOP + (top - value) / (top - bottom) * (PLOT_HEIGHT - TOP)

    return y


def _ticks(bottom: float, top: float, step: float, unit: str) -> tuple[list[Tick], Callable[[float], float]]:
    y = _panel_scale(bottom, top)
    count = round((top - bottom) / step)
    values = [bottom + i * step for i in range(count + 1)]
    ticks = [Tick(round(y(value), 1), f"{_format(value, step)} {unit}") for value in values]
    return ticks, y


def _when(moment: datetime) -> str:
    return f"{moment:%a %H:%M}"


def _line_panel(key, title, unit, values, times, xs, min_span, reference=None) -> Panel:
    low, high = min(values), max(values)
    bottom, top, step = _axis(
        min(low, reference) if reference else low, max(high, reference) if reference else high, min_span
    )
    ticks, y = _ticks(bottom, top, step, unit)
    line = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in zip(xs, values, strict=True))
    lowest, highest = values.index(low), values.index(high)
    summary = (
        f"{title}: {values[0]:.0f} {unit} now, {values[-1]:.0f} {unit} at {_when(times[-1])}; "
        f"lowest {low:.0f} {unit} ({_when(times[lowest])}), "
        f"highest {high:.0f} {unit} ({_when(times[highest])})."
    )
    ref = Tick(round(y(reference), 1), f"normal {reference} {unit}") if reference else None
    return Panel(key, title, unit, ticks, line, [], 0.0, ref, summary)


def _rain_panel(values, times, xs, bar_width) -> Panel:
    bottom, top, step = _axis(0.0, max(max(values), 1.0), 1.0)
    ticks, y = _ticks(bottom, top, step, "mm")
    bars = [(x - bar_width / 2, y(v), y(0.0) - y(v)) for x, v in zip(xs, values, strict=True) if v > 0]
    wet = [t for t, v in zip(times, values, strict=True) if v > 0]
    if wet:
        summary = (
            f"Rain and snow: {sum(values):.1f} mm in all, in {len(wet)} of {len(values)} hours, "
            f"most {max(values):.1f} mm in an hour; first at {_when(wet[0])}."
        )
    else:
        summary = "Rain and snow: none expected."
    return Panel("rain", "Rain and snow", "mm", ticks, "", bars, bar_width, None, summary)


def forecast_chart(hours, predictions, now: datetime, tz) -> Chart | None:
    """The chart for forecast rows (WeatherForecast) and the current predictions; None with under 2 rows."""
    if len(hours) < 2:
        return None
    first, last = hours[0].target_time, hours[-1].target_time
    span = (last - first).total_seconds()

    def fraction(moment: datetime) -> float:
        return min(max((moment - first).total_seconds() / span, 0.0), 1.0)

    times = [h.target_time.astimezone(tz) for h in hours]
    xs = [fraction(h.target_time) * INNER_WIDTH for h in hours]
    panels = [
        _line_panel(
            "pressure",
            "Air pressure",
            "hPa",
            [h.pressure_msl for h in hours],
            times,
            xs,
            10.0,
            reference=NORMAL_PRESSURE,
        ),
        _line_panel("temperature", "Temperature", "°C", [h.temperature for h in hours], times, xs, 6.0),
        _rain_panel([h.precipitation or 0.0 for h in hours], times, xs, INNER_WIDTH / len(hours) * 0.7),
    ]

    time_ticks = []
    for moment in times:
        if moment.hour % 6 == 0:
            x = fraction(moment) * 100
            if 4 <= x <= 96:  # a label centred on the edge would be cut in half
                day = moment.hour == 0
                time_ticks.append(
                    TimeTick(round(x, 2), f"{moment:%a}" if day else f"{moment:%H:%M}", day, moment.hour % 12 == 6)
                )

    windows: dict[tuple[datetime, datetime], list[Prediction]] = {}
    for p in predictions:
        windows.setdefault((p.window_start, p.window_end), []).append(p)
    shaded = []
    for (start, end), group in sorted(windows.items(), key=lambda item: item[0]):
        if end <= first or start >= last + timedelta(hours=1):
            continue
        x0, x1 = fraction(start), fraction(end)
        level = max((p.risk_level for p in group), key=RiskLevel.values.index)
        label = ", ".join(
            f"{p.get_prediction_type_display().lower()} {p.get_risk_level_display().lower()}" for p in group
        )
        shaded.append(
            Window(
                round(x0 * 100, 2),
                round((x1 - x0) * 100, 2),
                level.lower(),
                f"{_when(start.astimezone(tz))}–{end.astimezone(tz):%H:%M}: {label}",
            )
        )

    now_x = round(fraction(now) * 100, 2) if first <= now <= last else None
    return Chart(panels, time_ticks, now_x, shaded, len(hours), times[0], times[-1])
