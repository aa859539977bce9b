"""A server-rendered SVG chart of pressure and temperature (no JavaScript, no external assets)."""
from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 720, 220, 36


@dataclass(frozen=True)
class Series:
    label: str
    unit: str
    points: str  # "x,y x,y ..." for <polyline>
    low: float
    high: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    series: list[Series]
    ticks: list[tuple[float, str]]  # (x, "HH:MM")


def _scale(values: list[float], top: float, bottom: float) -> tuple[list[float], float, float]:
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return [bottom - (v - low) / span * (bottom - top) for v in values], low, high


def pressure_temperature(hours) -> Chart | None:
    """Chart for forecast rows (with target_time, pressure_msl, temperature); None with under 2 rows."""
    if len(hours) < 2:
        return None
    step = (WIDTH - 2 * PAD) / (len(hours) - 1)
    xs = [PAD + i * step for i in range(len(hours))]
    series = []
    for label, unit, attribute in (("Pressure", "hPa", "pressure_msl"), ("Temperature", "°C", "temperature")):
        ys, low, high = _scale([getattr(h, attribute) for h in hours], PAD, HEIGHT - PAD)
        series.append(Series(label, unit, " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys)), low, high))
    every = max(1, len(hours) // 8)
    ticks = [(xs[i], f"{hours[i].target_time:%H:%M}") for i in range(0, len(hours), every)]
    return Chart(WIDTH, HEIGHT, series, ticks)
