"""The deterministic rule-based predictor: always available, used whenever the LLM is not.

Each weather factor gets a score from 0 to 1 from how far the forecast goes past a threshold,
weighted per prediction type, then scaled by the user's sensitivity to that factor (0 ignores
it, 1 is normal, 3 doubles it) and by their overall sensitivity. The factors are returned so
the dashboard can explain "why HIGH": each with its numbers, and with a sentence in plain words
that the rationale is made of (the numbers stay behind the page's "numbers" toggle).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import mean

from forecast.models import PredictionType, RiskLevel

# Per-factor weight for each prediction type (how much that factor matters to it).
WEIGHTS = {
    PredictionType.MIGRAINE: {
        "pressure": 0.40,
        "low_pressure": 0.20,
        "temperature": 0.25,
        "humidity": 0.10,
        "precipitation": 0.05,
        "cloud_cover": 0.05,
    },
    PredictionType.SINUSITIS: {
        "pressure": 0.20,
        "low_pressure": 0.15,
        "temperature": 0.20,
        "humidity": 0.30,
        "precipitation": 0.10,
        "cloud_cover": 0.05,
    },
}
# Sensitivity 0..3 -> multiplier.
SENSITIVITY_SCALE = {0: 0.0, 1: 1.0, 2: 1.5, 3: 2.0}
# Weighted total -> level.
HIGH_AT = 0.45
MEDIUM_AT = 0.2

TIPS = {
    "pressure": "Pressure is changing fast: keep your usual medication at hand and stay hydrated.",
    "low_pressure": "Low pressure is coming: plan a quieter day and keep regular meals and sleep.",
    "temperature": "Large temperature swings: dress in layers and avoid sudden hot/cold changes.",
    "humidity": "Humidity is extreme: use a humidifier or saline rinse and keep rooms aired.",
    "precipitation": "Rain is expected: damp air can irritate sinuses; keep nasal passages moist.",
    "cloud_cover": "A long overcast spell: get daylight when you can and keep a steady routine.",
}


@dataclass(frozen=True)
class Factor:
    name: str
    label: str
    value: float
    score: float
    detail: str
    plain: str  # the weather in words, for people rather than for the formula


@dataclass(frozen=True)
class Assessment:
    level: str
    confidence: float
    rationale: str
    prevention_tips: list[str]
    factors: list[dict] = field(default_factory=list)
    source: str = "rules"


def _ramp(value: float, start: float, full: float) -> float:
    """0 below `start`, 1 from `full`, linear between."""
    if value <= start:
        return 0.0
    if value >= full:
        return 1.0
    return (value - start) / (full - start)


# The weather in plain words. A number and its unit are joined by a no-break space (U+00A0).
def _size(score: float) -> str:
    return "a big" if score >= 0.67 else "a clear" if score >= 0.34 else "a small"


def _pressure_words(change: float, spread: float, score: float) -> str:
    if spread < 3:
        return "Air pressure stays steady."
    direction = "falls" if change <= -spread / 2 else "rises" if change >= spread / 2 else "goes up and down"
    return f"Air pressure {direction} by about {spread:.0f}\u00a0hPa: {_size(score)} change."


def _low_pressure_words(low: float, score: float) -> str:
    if not score:
        return "Air pressure stays at usual levels."
    return f"Air pressure gets {'very ' if score >= 0.67 else ''}low, down to {low:.0f}\u00a0hPa."


def _degrees(value: float) -> str:
    """A temperature as the page's hourly table shows it (one decimal), without a trailing ".0"."""
    return f"{value:.1f}".removesuffix(".0")


def _temperature_words(coldest: float, warmest: float) -> str:
    if warmest - coldest < 3:
        return "The temperature stays about the same."
    return (
        f"The temperature changes by {_degrees(warmest - coldest)}\u00a0°C, "
        f"between {_degrees(coldest)} and {_degrees(warmest)}\u00a0°C."
    )


def _humidity_words(low: float, high: float) -> str:
    if high >= 80:
        return f"The air is very damp (humidity up to {high:.0f}\u00a0%)."
    if low <= 30:
        return f"The air is very dry (humidity down to {low:.0f}\u00a0%)."
    return "Humidity stays comfortable."


def _rain_words(rain: float, score: float) -> str:
    if rain < 1:
        return "Little or no rain."
    return f"{'Heavy rain' if score >= 0.67 else 'Rain'} or snow: about {rain:.0f}\u00a0mm in all."


def _cloud_words(cloud_mean: float) -> str:
    if cloud_mean >= 80:
        return "The sky stays grey and overcast."
    return "Some sun between the clouds." if cloud_mean >= 40 else "Mostly clear skies."


def weather_factors(hours) -> list[Factor]:
    """Score the six factors over a window's forecast hours (objects with the WeatherForecast fields)."""
    pressures = [h.pressure_msl for h in hours]
    temperatures = [h.temperature for h in hours]
    humidities = [h.humidity for h in hours]
    clouds = [h.cloud_cover for h in hours if h.cloud_cover is not None]
    rain = sum(h.precipitation or 0.0 for h in hours)

    pressure_change = pressures[-1] - pressures[0]
    pressure_range = max(pressures) - min(pressures)
    low = min(pressures)
    temperature_range = max(temperatures) - min(temperatures)
    humidity_high, humidity_low = max(humidities), min(humidities)
    humidity_score = max(_ramp(humidity_high, 80, 95), _ramp(100 - humidity_low, 70, 85))
    cloud_mean = mean(clouds) if clouds else 0.0
    pressure_score = _ramp(pressure_range, 3, 10)
    low_score = _ramp(1013 - low, 5, 25)
    rain_score = _ramp(rain, 1, 10)
    return [
        Factor(
            "pressure",
            "Pressure change",
            round(pressure_range, 1),
            pressure_score,
            f"{pressure_change:+.1f} hPa over the window (range {pressure_range:.1f} hPa)",
            _pressure_words(pressure_change, pressure_range, pressure_score),
        ),
        Factor(
            "low_pressure",
            "Low pressure",
            round(low, 1),
            low_score,
            f"lowest {low:.0f} hPa",
            _low_pressure_words(low, low_score),
        ),
        Factor(
            "temperature",
            "Temperature change",
            round(temperature_range, 1),
            _ramp(temperature_range, 5, 12),
            f"{_degrees(min(temperatures))} to {_degrees(max(temperatures))} °C",
            _temperature_words(min(temperatures), max(temperatures)),
        ),
        Factor(
            "humidity",
            "Humidity extremes",
            round(humidity_high, 0),
            humidity_score,
            (
                f"{humidity_low:.0f}% to {humidity_high:.0f}%"
                if humidity_low != humidity_high
                else f"{humidity_high:.0f}%"
            ),
            _humidity_words(humidity_low, humidity_high),
        ),
        Factor(
            "precipitation",
            "Precipitation",
            round(rain, 1),
            rain_score,
            f"{rain:.1f} mm in total",
            _rain_words(rain, rain_score),
        ),
        Factor(
            "cloud_cover",
            "Cloud cover",
            round(cloud_mean, 0),
            _ramp(cloud_mean, 60, 95),
            f"{cloud_mean:.0f}% on average",
            _cloud_words(cloud_mean),
        ),
    ]


def predict(hours, profile, prediction_type: str) -> Assessment:
    """Risk for `prediction_type` over `hours`: the forecast hours of the window, its first and last included."""
    if len(hours) < 2:
        return Assessment(RiskLevel.LOW, 0.1, "Not enough forecast data for this window yet.", [], [])
    weights = WEIGHTS[PredictionType(prediction_type)]
    overall = SENSITIVITY_SCALE[profile.sensitivity_overall]
    scored = []
    total = 0.0
    for factor in weather_factors(hours):
        sensitivity = SENSITIVITY_SCALE[profile.sensitivity(factor.name)]
        contribution = factor.score * weights[factor.name] * sensitivity * overall
        total += contribution
        scored.append({**asdict(factor), "score": round(factor.score, 2), "contribution": round(contribution, 3)})
    scored.sort(key=lambda f: f["contribution"], reverse=True)
    level = RiskLevel.HIGH if total >= HIGH_AT else RiskLevel.MEDIUM if total >= MEDIUM_AT else RiskLevel.LOW
    drivers = [f for f in scored if f["contribution"] > 0.02][:3]
    if drivers:
        rationale = " ".join(f["plain"] for f in drivers)
    else:
        rationale = "No kind of weather that affects you stands out in these hours."
    # More forecast hours and a clearer margin from the thresholds mean more confidence.
    margin = min(abs(total - HIGH_AT), abs(total - MEDIUM_AT))
    confidence = round(min(0.95, 0.5 + min(len(hours), 24) / 96 + min(margin, 0.2)), 2)
    tips = [TIPS[f["name"]] for f in drivers] if level != RiskLevel.LOW else []
    return Assessment(level, confidence, rationale, tips, scored)
