import csv

import sentry_sdk
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from forecast import charts, open_meteo, predictions, weather
from forecast.forms import HistoryFilterForm, LocationForm, PlaceSearchForm
from forecast.models import Location, Prediction, PredictionType
from forecast.reporting import report_weather_failure

HISTORY_PAGE_SIZE = 25


def _owned_location(request, pk):
    """The user's own location or 404, never someone else's."""
    return get_object_or_404(Location.owned_by(request.user), pk=pk)


def _unexpired_predictions(now):
    return Prediction.objects.filter(window_end__gt=now).order_by("window_start")


def _current_predictions(unexpired):
    """The first prediction per type among `unexpired` (by window start): the current window's."""
    current = {}
    for prediction in unexpired:
        current.setdefault(prediction.prediction_type, prediction)
    return [current[t] for t in PredictionType.values if t in current]


@login_required
def location_list(request):
    # One query for every place's current predictions, however many places (not the whole history).
    unexpired = Prefetch("predictions", queryset=_unexpired_predictions(timezone.now()), to_attr="unexpired")
    locations = list(Location.owned_by(request.user).prefetch_related(unexpired))
    rows = [(location, _current_predictions(location.unexpired)) for location in locations]
    return render(request, "forecast/location_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def location_add(request):
    search = PlaceSearchForm(request.GET or None)
    matches = []
    if search.is_valid():
        try:
            matches = open_meteo.geocode(search.cleaned_data["query"])
        except open_meteo.WeatherAPIError as exc:
            report_weather_failure(exc, None)
            messages.error(request, "Place search is unavailable right now; enter coordinates instead.")
        else:
            if not matches:
                search.add_error("query", "No place of that name was found. Check the spelling or enter coordinates.")
    form = LocationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            location = form.save()
        sentry_sdk.add_breadcrumb(category="user_action", message="location added", data={"location": location.pk})
        _fetch_now(request, location)
        return redirect("forecast:location-detail", pk=location.pk)
    return render(request, "forecast/location_add.html", {"search": search, "matches": matches, "form": form})


def _fetch_now(request, location):
    """Adding a place fetches its forecast and predicts at once; a failure leaves the place for the next run."""
    try:
        with transaction.atomic():
            weather.collect(location)
            predictions.generate(location)
    except open_meteo.WeatherAPIError as exc:
        report_weather_failure(exc, location)
        messages.warning(request, f"{location.name}: the forecast could not be fetched yet; "
                                  "it will be retried on the next hourly run.")
    else:
        messages.success(request, f"{location.name}: forecast fetched and risk predicted.")


@login_required
def location_detail(request, pk):
    location = _owned_location(request, pk)
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    with sentry_sdk.start_span(op="db.query", name="dashboard forecast hours"):
        hours = list(location.forecasts.filter(target_time__gte=hour).order_by("target_time")[:48])
    current = _current_predictions(_unexpired_predictions(now).filter(location=location))
    context = {
        "location": location,
        "predictions": current,
        "hours": hours[:24],
        "chart": charts.pressure_temperature(hours),
        "report": location.comparison_reports.first(),
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
    return render(request, "forecast/history.html", {"form": form, "page": page, "query": query.urlencode()})


class _Echo:
    def write(self, value):
        return value


@login_required
def history_csv(request):
    """The filtered history as CSV, streamed so that a long history does not sit in memory."""
    _, queryset = _history(request)
    writer = csv.writer(_Echo())
    header = ["window_start", "window_end", "location", "type", "risk", "source", "confidence", "rationale", "notified_at"]

    def rows():
        yield writer.writerow(header)
        for p in queryset.iterator(chunk_size=500):
            yield writer.writerow([
                p.window_start.isoformat(), p.window_end.isoformat(), p.location.name, p.prediction_type,
                p.risk_level, p.source, f"{p.confidence:.2f}", p.rationale,
                p.notified_at.isoformat() if p.notified_at else "",
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="predictions-{timezone.now():%Y%m%d}.csv"'
    return response


@login_required
@require_POST
def refresh(request, pk):
    """Fetch and predict now for one location (the dashboard's refresh button)."""
    location = _owned_location(request, pk)
    sentry_sdk.add_breadcrumb(category="user_action", message="forecast refresh", data={"location": pk})
    _fetch_now(request, location)
    return redirect("forecast:location-detail", pk=location.pk)
