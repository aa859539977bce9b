import csv

import sentry_sdk
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import dateformat, timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.core import get_usage

from forecast import charts, open_meteo, predictions, schedule, weather
from forecast.forms import HistoryFilterForm, LocationForm, PlaceSearchForm
from forecast.models import Location, Prediction, PredictionType
from forecast.reporting import report_weather_failure

HISTORY_PAGE_SIZE = 25
CHART_HOURS = 48
TABLE_HOURS = 24
# A spreadsheet runs a cell starting with one of these as a formula (OWASP: CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _over_limit(request, group: str, rate: str) -> int | None:
    """Counts one more call to Open-Meteo for this user; the seconds to wait when over `rate`, else None."""
    usage = get_usage(request, group=group, key="user", rate=rate, increment=True)
    if usage and usage["should_limit"]:
        return usage["time_left"]
    return None


def _wait(seconds: int) -> str:
    # django-ratelimit reports 0 in a window's last second and -1 when the cache cannot say: never "0 minutes".
    minutes = max(1, -(-seconds // 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _next_update(location) -> str:
    """When the scheduled collect_weather_data job next fetches every place's forecast, in the place's time."""
    try:
        run = timezone.localtime(schedule.next_run("collect_weather_data"), location.tz)
    except ValueError:  # a schedule the scheduler itself refuses to start with
        return "with the next scheduled update"
    today = timezone.localtime(timezone.now(), location.tz).date()
    return f"with the next scheduled update at {dateformat.format(run, 'H:i T' if run.date() == today else 'l H:i T')}"


def _owned_location(request, pk):
    """The user's own location or 404, never someone else's."""
    return get_object_or_404(Location.owned_by(request.user), pk=pk)


def _unexpired_predictions(now):
    return Prediction.objects.filter(window_end__gt=now).order_by("window_start")


def _current_predictions(unexpired):
    """The first prediction per type among `unexpired` (by window start): the current window's."""
    current: dict[str, Prediction] = {}
    for prediction in unexpired:
        current.setdefault(prediction.prediction_type, prediction)
    return [current[t] for t in PredictionType.values if t in current]


@login_required
def location_list(request):
    # One query for every place's current predictions, however many places (not the whole history).
    now = timezone.now()
    unexpired = Prefetch("predictions", queryset=_unexpired_predictions(now), to_attr="unexpired")
    locations = list(Location.owned_by(request.user).prefetch_related(unexpired))
    rows = [(location, _current_predictions(location.unexpired)) for location in locations]
    return render(request, "forecast/location_list.html", {"rows": rows, "now": now})


@login_required
@require_http_methods(["GET", "POST"])
def location_add(request):
    budget = open_meteo.PageBudget()  # for the search and the new place's forecast together
    search = PlaceSearchForm(request.GET or None)
    matches = []
    status = 200
    if search.is_valid():
        wait = _over_limit(request, "place-search", settings.RATELIMIT_PLACE_SEARCH)
        if wait is not None:
            search.add_error(
                "query",
                f"You searched many times in a short while. Try again in {_wait(wait)}, "
                "or enter the coordinates below.",
            )
            status = 429
        else:
            try:
                matches = open_meteo.geocode(search.cleaned_data["query"], budget=budget)
            except open_meteo.WeatherAPIError as exc:
                report_weather_failure(exc, None)
                messages.error(request, "Place search is unavailable right now; enter coordinates instead.")
            else:
                if not matches:
                    search.add_error(
                        "query", "No place of that name was found. Check the spelling or enter coordinates."
                    )
    form = LocationForm(request.POST or None, user=request.user)
    if request.method == "POST":
        with transaction.atomic():
            # One add at a time per user, so that parallel requests cannot pass the cap on places together.
            get_user_model().objects.select_for_update().filter(pk=request.user.pk).first()
            location = form.save() if form.is_valid() else None
        if location is not None:
            sentry_sdk.add_breadcrumb(category="user_action", message="location added", data={"location": location.pk})
            _fetch_now(request, location, budget, added=True)
            return redirect("forecast:location-detail", pk=location.pk)
    context = {
        "search": search,
        "matches": matches,
        "form": form,
        "places": Location.owned_by(request.user).count(),
        "max_places": settings.MAX_LOCATIONS_PER_USER,
    }
    return render(request, "forecast/location_add.html", context, status=status)


def _fetch_now(request, location, budget: open_meteo.PageBudget, *, added: bool = False):
    """Fetch the forecast and predict at once, within the page's `budget`; a failure or the rate limit
    leaves the place to the next scheduled collection, and the message says when that is."""
    about = f"{location.name} is saved. Its forecast" if added else f"{location.name}: the forecast"
    wait = _over_limit(request, "forecast-fetch", settings.RATELIMIT_FORECAST_FETCH)
    if wait is not None:
        messages.warning(
            request,
            f"{about} waits, as you asked for many forecasts in a short while: it comes "
            f"{_next_update(location)} (or try again in {_wait(wait)}).",
        )
        return
    try:
        with transaction.atomic():
            weather.collect(location, budget=budget)
            predictions.generate(location)
    except open_meteo.WeatherAPIError as exc:
        report_weather_failure(exc, location)
        messages.warning(
            request,
            f"{about} could not be fetched now (Open-Meteo did not answer in time or "
            f"failed); it comes {_next_update(location)}.",
        )
    else:
        messages.success(request, f"{location.name}: forecast fetched and risk predicted.")


@login_required
def location_detail(request, pk):
    location = _owned_location(request, pk)
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    with sentry_sdk.start_span(op="db.query", name="dashboard forecast hours"):
        hours = list(location.forecasts.filter(target_time__gte=hour).order_by("target_time")[:CHART_HOURS])
    current = _current_predictions(_unexpired_predictions(now).filter(location=location))
    context = {
        "location": location,
        "now": now,
        "predictions": current,
        "hours": hours[:TABLE_HOURS],
        "chart": charts.forecast_chart(hours, current, now, location.tz),
        "report": location.comparison_reports.first(),
        "anomaly_threshold": settings.ANOMALY_TEMPERATURE_DELTA,
        "next_update": _next_update(location),
    }
    return render(request, "forecast/location_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def location_delete(request, pk):
    location = _owned_location(request, pk)
    if request.method == "POST":
        name = location.name
        location.delete()
        sentry_sdk.add_breadcrumb(category="user_action", message="location deleted", data={"location": pk})
        messages.success(request, f"{name} and its forecasts were deleted.")
        return redirect("forecast:location-list")
    return render(request, "forecast/location_confirm_delete.html", {"location": location})


def _history(request):
    """The user's predictions, filtered when the filter is valid (the page says when it is not)."""
    form = HistoryFilterForm(request.GET or None, user=request.user)
    queryset = Prediction.objects.filter(location__user=request.user).select_related("location")
    if form.is_valid():
        if form.cleaned_data["location"]:
            queryset = queryset.filter(location=form.cleaned_data["location"])
        if form.cleaned_data["prediction_type"]:
            queryset = queryset.filter(prediction_type=form.cleaned_data["prediction_type"])
    return form, queryset.order_by("-window_start", "location__name", "prediction_type")


@login_required
def history(request):
    form, queryset = _history(request)
    with sentry_sdk.start_span(op="db.query", name="prediction history page"):
        page = Paginator(queryset, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    filtered = form.is_valid() and any(form.cleaned_data.values())
    context = {"form": form, "page": page, "query": query.urlencode(), "filtered": filtered}
    return render(request, "forecast/history.html", context)


class _Echo:
    def write(self, value):
        return value


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: a leading quote before a formula character (OWASP CSV injection)."""
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


@login_required
def history_csv(request):
    """The filtered history as CSV, streamed so that a long history does not sit in memory.

    UTF-8 with a byte-order mark, so that spreadsheet apps read "°C" and accented names right;
    every cell quoted and user text neutralised against formula injection. Times are the place's
    local times, as the pages show them (ISO 8601 with their UTC offset), and the place's time zone
    is named in its own column.
    """
    _, queryset = _history(request)
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    header = [
        "window_start",
        "window_end",
        "location",
        "time_zone",
        "type",
        "risk",
        "source",
        "confidence",
        "rationale",
        "notified_at",
    ]

    def rows():
        yield "\ufeff" + writer.writerow(header)
        for p in queryset.iterator(chunk_size=500):
            tz = p.location.tz
            yield writer.writerow(
                [
                    p.window_start.astimezone(tz).isoformat(),
                    p.window_end.astimezone(tz).isoformat(),
                    _cell(p.location.name),
                    p.location.timezone or "UTC",
                    p.prediction_type,
                    p.risk_level,
                    p.get_source_display(),
                    f"{p.confidence:.2f}",
                    _cell(p.rationale),
                    p.notified_at.astimezone(tz).isoformat() if p.notified_at else "",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="predictions-{timezone.now():%Y%m%d}.csv"'
    return response


@login_required
@require_POST
def refresh(request, pk):
    """Fetch and predict now for one location (the dashboard's refresh button)."""
    location = _owned_location(request, pk)
    sentry_sdk.add_breadcrumb(category="user_action", message="forecast refresh", data={"location": pk})
    _fetch_now(request, location, open_meteo.PageBudget())
    return redirect("forecast:location-detail", pk=location.pk)
