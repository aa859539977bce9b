"""A page never waits long on Open-Meteo: against a hung upstream (the harness's fake, made to
hang), search, add and refresh each ask once, give up within the page's budget
(OPEN_METEO_PAGE_TIMEOUT, for all of a request's calls together), keep the place and say when the
scheduled job will fetch its forecast; the jobs keep their timeout and retries."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from forecast.models import Location
from tests.app.helpers import run_command

PAGE_BUDGET = 0.5
# The jobs' policy, made slow enough that a page using it (5 s a try, 4 tries) breaks the bound below.
JOB_TIMEOUT, JOB_RETRIES = 5.0, 3
# Generous: the page's budget is 0.5 s; only a page that waits out a job's timeout goes past this.
WELL_WITHIN_ONE_JOB_TIMEOUT = 4.5


@pytest.fixture
def hung(open_meteo, settings):
    settings.OPEN_METEO_PAGE_TIMEOUT = PAGE_BUDGET
    settings.OPEN_METEO_TIMEOUT, settings.OPEN_METEO_RETRIES = JOB_TIMEOUT, JOB_RETRIES
    settings.SCHEDULE = {**settings.SCHEDULE, "collect_weather_data": "5 * * * *"}
    open_meteo.hang()
    return open_meteo


def timed(request):
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def next_collection_times(before: datetime, after: datetime) -> set[str]:
    """ "HH:05" of the next hourly run at :05 (UTC: the test places have no zone yet), seen from
    either side of the request."""

    def following(moment):
        run = moment.replace(minute=5, second=0, microsecond=0)
        return f"{run if run > moment else run + timedelta(hours=1):%H:%M}"

    return {following(before), following(after)}


def test_refresh_asks_once_and_gives_up_within_the_pages_budget(logged_in, location, hung):
    before = datetime.now(UTC)
    response, seconds = timed(
        lambda: logged_in.post(reverse("forecast:location-refresh", args=[location.pk]), follow=True)
    )
    page = response.content.decode()
    assert len(hung.requests) == 1, "a page must not retry"
    assert PAGE_BUDGET <= seconds < WELL_WITHIN_ONE_JOB_TIMEOUT
    assert "could not be fetched now" in page
    assert any(f"next scheduled update at {at}" in page for at in next_collection_times(before, datetime.now(UTC)))


def test_adding_a_place_keeps_it_when_the_forecast_does_not_come(logged_in, user, hung):
    before = datetime.now(UTC)
    response, seconds = timed(
        lambda: logged_in.post(
            reverse("forecast:location-add"), {"name": "Home", "latitude": "48.1", "longitude": "11.5"}, follow=True
        )
    )
    page = response.content.decode()
    assert Location.objects.filter(user=user, name="Home").exists()
    assert len(hung.requests) == 1
    assert seconds < WELL_WITHIN_ONE_JOB_TIMEOUT
    assert "Home is saved" in page
    assert any(f"next scheduled update at {at}" in page for at in next_collection_times(before, datetime.now(UTC)))


def test_search_asks_once_and_offers_the_coordinates_instead(logged_in, hung):
    response, seconds = timed(lambda: logged_in.get(reverse("forecast:location-add"), {"query": "Berlin"}))
    assert len(hung.requests) == 1
    assert seconds < WELL_WITHIN_ONE_JOB_TIMEOUT
    assert "Place search is unavailable right now" in response.content.decode()


def test_the_budget_is_for_all_of_a_requests_calls_together(logged_in, user, hung):
    """Choosing a search result posts to the search's own address: search again, then fetch. The
    search spends the budget, so the fetch is not even tried, and the place is still kept."""
    response, seconds = timed(
        lambda: logged_in.post(
            reverse("forecast:location-add") + "?query=Berlin",
            {"name": "Berlin", "country": "Germany", "latitude": "52.52437", "longitude": "13.41053"},
            follow=True,
        )
    )
    assert [request.path for request in hung.requests] == ["/v1/search"]
    assert seconds < WELL_WITHIN_ONE_JOB_TIMEOUT
    assert Location.objects.filter(user=user, name="Berlin").exists()
    assert "Berlin is saved" in response.content.decode()


def test_a_place_without_a_forecast_says_when_it_comes(logged_in, location, settings):
    settings.SCHEDULE = {**settings.SCHEDULE, "collect_weather_data": "5 * * * *"}
    before = datetime.now(UTC)
    page = logged_in.get(reverse("forecast:location-detail", args=[location.pk])).content.decode()
    assert any(f"next scheduled update at {at}" in page for at in next_collection_times(before, datetime.now(UTC)))


@pytest.mark.slow
def test_the_job_keeps_its_timeout_and_retries(location, open_meteo, settings):
    settings.OPEN_METEO_TIMEOUT, settings.OPEN_METEO_RETRIES = 0.3, 2
    open_meteo.hang()
    status, output = run_command("collect_weather_data")
    assert status == 1 and "failed" in output
    assert len(open_meteo.requests) == 3  # the first try and two retries
