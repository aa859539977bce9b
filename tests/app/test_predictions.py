"""Predictions: the rules always work; the LLM is used when it answers sensibly, else the rules."""

import json
from collections import Counter
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.models import HealthProfile
from forecast import llm as llm_predictor
from forecast import rules
from forecast.models import Location, Prediction
from tests.app.helpers import run_command
from tests.harness.http_fake import Response
from tests.harness.llm_fake import HIGH_ANSWER, completion
from tests.harness.open_meteo_fake import calm_weather, stormy_weather
from tests.harness.sentry_receiver import tags


def hours(pressures, temperatures=None, humidity=60.0, rain=0.0, cloud=30.0):
    temperatures = temperatures or [12.0] * len(pressures)
    return [
        SimpleNamespace(pressure_msl=p, temperature=t, humidity=humidity, precipitation=rain, cloud_cover=cloud)
        for p, t in zip(pressures, temperatures, strict=True)
    ]


def profile(**sensitivities):
    return HealthProfile(**{f"sensitivity_{k}": v for k, v in sensitivities.items()})


def test_steady_weather_is_low_risk():
    result = rules.predict(hours([1016] * 6), profile(), "MIGRAINE")
    assert result.level == "LOW"
    assert result.prevention_tips == []


def test_falling_pressure_and_temperature_swing_is_high_for_migraine():
    result = rules.predict(hours([1012, 1008, 1004, 1000, 996], [18, 15, 12, 9, 6]), profile(), "MIGRAINE")
    assert result.level == "HIGH"
    names = [f["name"] for f in result.factors[:2]]
    assert names == ["pressure", "temperature"]
    # In plain words, not the formula's labels and scores.
    assert result.rationale.startswith("Air pressure falls by about 16\u00a0hPa: a big change.")
    assert "score" not in result.rationale.lower()
    assert result.prevention_tips


def test_humid_wet_weather_matters_more_for_sinusitis_than_migraine():
    weather = hours([1014] * 6, humidity=97.0, rain=2.0, cloud=100.0)
    assert rules.predict(weather, profile(), "SINUSITIS").level == "HIGH"
    assert rules.predict(weather, profile(), "MIGRAINE").level == "MEDIUM"


def test_sensitivities_scale_the_risk():
    weather = hours([1012, 1009, 1006, 1003])
    assert rules.predict(weather, profile(pressure=1), "MIGRAINE").level == "MEDIUM"
    assert rules.predict(weather, profile(pressure=3), "MIGRAINE").level == "HIGH"
    assert rules.predict(weather, profile(pressure=0, low_pressure=0), "MIGRAINE").level == "LOW"
    assert rules.predict(weather, profile(overall=0), "MIGRAINE").level == "LOW"


def test_too_little_data_is_low_with_low_confidence():
    result = rules.predict(hours([1000]), profile(), "MIGRAINE")
    assert result.level == "LOW" and result.confidence < 0.2


@pytest.fixture
def stormy_location(location, open_meteo):
    open_meteo.weather = stormy_weather
    assert run_command("collect_weather_data")[0] == 0
    return location


def test_job_stores_both_types_with_factors_from_the_rules(stormy_location):
    status, output = run_command("generate_predictions")
    assert status == 0, output
    predictions = {p.prediction_type: p for p in Prediction.objects.filter(location=stormy_location)}
    assert set(predictions) == {"MIGRAINE", "SINUSITIS"}
    migraine = predictions["MIGRAINE"]
    assert migraine.risk_level == "HIGH" and migraine.source == "rules"
    assert {f["name"] for f in migraine.factors} == set(rules.WEIGHTS["MIGRAINE"])
    assert (migraine.window_end - migraine.window_start).total_seconds() == 3 * 3600
    # Idempotent: a second run updates the same rows.
    assert run_command("generate_predictions")[0] == 0
    assert Prediction.objects.count() == 2


def test_llm_answer_is_used_when_valid(stormy_location, llm):
    llm.content = json.dumps(
        {"level": "medium", "confidence": 0.7, "rationale": "Moderate change.", "prevention_tips": ["Rest."]}
    )
    assert run_command("generate_predictions")[0] == 0
    prediction = Prediction.objects.get(location=stormy_location, prediction_type="MIGRAINE")
    assert (prediction.source, prediction.risk_level, prediction.rationale) == ("llm", "MEDIUM", "Moderate change.")
    assert prediction.factors  # the "why" still comes from the scored factors
    request = llm.requests[0].json()
    assert request["model"] == "test-model"
    assert "Pressure change" in request["messages"][1]["content"]


def test_fenced_json_is_accepted(stormy_location, llm):
    llm.content = (
        "```json\n"
        + json.dumps({"level": "LOW", "confidence": 0.9, "rationale": "Fine.", "prevention_tips": []})
        + "\n```"
    )
    assert run_command("generate_predictions")[0] == 0
    assert Prediction.objects.filter(source="llm", risk_level="LOW").count() == 2


BAD_ANSWERS = {
    "server-error": Response(500, {"error": {"message": "The server had an error", "type": "server_error"}}),
    "not-json": Response(200, completion("I think the risk is high.")),
    "wrong-level": Response(200, completion(json.dumps({"level": "EXTREME", "confidence": 0.5, "rationale": "x"}))),
    "confidence-out-of-range": Response(
        200, completion(json.dumps({"level": "LOW", "confidence": 7, "rationale": "x"}))
    ),
    "not-a-completion": Response(200, {"object": "list", "data": []}),
    "timeout": Response(200, completion("{}"), delay=3.0),
}


@pytest.mark.parametrize("answer", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_llm_failure_falls_back_to_rules_and_is_reported(stormy_location, llm, sentry, settings, answer):
    settings.LLM_RETRIES = 0
    llm.script(answer, answer)
    status, output = run_command("generate_predictions")
    assert status == 0, output  # handled: the rules answered
    assert set(Prediction.objects.values_list("source", flat=True)) == {"rules"}
    event = sentry.wait_for(lambda e: tags(e).get("prediction_failed") == "true")
    assert tags(event)["llm_model"] == "test-model"
    assert tags(event)["prediction_type"] in {"MIGRAINE", "SINUSITIS"}
    assert tags(event)["location"] == stormy_location.name and tags(event)["location_id"] == str(stormy_location.pk)
    assert event["exception"]["values"][-1]["type"] == "LLMError"


def test_llm_key_never_reaches_sentry(stormy_location, llm, sentry, settings):
    settings.LLM_RETRIES = 0
    llm.script(Response(401, {"error": {"message": f"Incorrect API key provided: {settings.LLM_API_KEY}"}}))
    run_command("generate_predictions")
    sentry.wait_for(lambda e: tags(e).get("prediction_failed") == "true")
    assert settings.LLM_API_KEY.encode() not in sentry.raw_bodies()


def test_parse_answer_names_the_problem():
    with pytest.raises(llm_predictor.LLMError, match="confidence: Input should be less than or equal to 1"):
        llm_predictor.parse_answer('{"level": "LOW", "confidence": 2, "rationale": "x"}')


@pytest.fixture
def stormy_places(stormy_location, user, open_meteo):
    """Six stormy places (the Berlin one and five more), with their forecasts collected."""
    from tests.app.test_weather_collection import add_places

    add_places(user, 5)
    assert run_command("collect_weather_data")[0] == 0
    return Location.objects.all()


def test_llm_calls_stop_at_the_run_budget_and_the_rules_take_over(stormy_places, llm, settings):
    settings.LLM_MAX_CALLS_PER_RUN = 5
    status, output = run_command("generate_predictions")
    assert status == 0, output
    assert len(llm.requests) == 5
    assert Counter(Prediction.objects.values_list("source", flat=True)) == {"llm": 5, "rules": 7}
    assert "budget spent" in output


def test_a_budget_of_zero_means_rules_only(stormy_places, llm, settings):
    settings.LLM_MAX_CALLS_PER_RUN = 0
    assert run_command("generate_predictions")[0] == 0
    assert llm.requests == [] and set(Prediction.objects.values_list("source", flat=True)) == {"rules"}


@pytest.mark.parametrize("concurrency", [1, 3])
def test_llm_requests_in_flight_are_bounded_and_share_connections(stormy_places, llm, settings, concurrency):
    from forecast import http

    http._sessions.clear()  # count this test's connections from zero
    settings.LLM_CONCURRENCY = concurrency
    llm.script(*[Response(200, completion(json.dumps(HIGH_ANSWER)), delay=0.1)] * 12)
    assert run_command("generate_predictions")[0] == 0
    assert len(llm.requests) == 12 and Prediction.objects.filter(source="llm").count() == 12
    assert llm.max_in_flight == concurrency
    assert 1 <= llm.connections <= concurrency


def test_an_emailed_prediction_is_kept_and_the_others_are_refreshed(stormy_location, open_meteo):
    assert run_command("generate_predictions")[0] == 0
    Prediction.objects.filter(prediction_type="MIGRAINE").update(notified_at=timezone.now())
    open_meteo.weather = calm_weather
    assert run_command("collect_weather_data")[0] == 0
    status, output = run_command("generate_predictions")
    assert status == 0, output
    levels = dict(Prediction.objects.values_list("prediction_type", "risk_level"))
    assert levels == {"MIGRAINE": "HIGH", "SINUSITIS": "LOW"}  # the e-mailed one as the user was told
    assert "1 already e-mailed kept" in output


def test_queries_do_not_grow_with_the_locations(stormy_location, user, open_meteo, django_assert_num_queries):
    from tests.app.test_weather_collection import add_places

    # the job's lock (taken, released), locations, profiles, forecast hours, and the upsert (savepoint,
    # e-mailed check, insert, release)
    with django_assert_num_queries(9):
        assert run_command("generate_predictions")[0] == 0
    add_places(user, 30)
    assert run_command("collect_weather_data")[0] == 0
    with django_assert_num_queries(9):
        assert run_command("generate_predictions")[0] == 0
    assert Prediction.objects.count() == 2 * 31


def test_dry_run_predicts_but_stores_nothing(stormy_location):
    status, output = run_command("generate_predictions", "--dry-run")
    assert status == 0, output
    assert "dry run" in output
    assert not Prediction.objects.exists()
