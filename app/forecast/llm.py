"""The LLM predictor: asks an OpenAI-compatible chat completions API for a risk assessment.

`POST {LLM_BASE_URL}/v1/chat/completions`; the answer must be a JSON object (a ```json fence
around it is accepted) with level, confidence, rationale and prevention tips. Anything else
raises LLMError, and the caller falls back to the rules.
"""

from __future__ import annotations

import json
import re
from typing import Literal

import requests
import sentry_sdk
from django.conf import settings
from pydantic import BaseModel, Field, ValidationError, field_validator

from forecast import http
from forecast.rules import Assessment

FENCE_RE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)

SYSTEM_PROMPT = (
    "You assess weather-triggered health risk. Answer with one JSON object only: "
    '{"level": "LOW"|"MEDIUM"|"HIGH", "confidence": number 0..1, "rationale": string, '
    '"prevention_tips": [string, ...]}.'
)


class LLMError(Exception):
    """The LLM was unreachable or its answer was unusable."""


class LLMAnswer(BaseModel):
    level: Literal["LOW", "MEDIUM", "HIGH"]
    confidence: float = Field(ge=0, le=1)
    rationale: str = Field(min_length=1, max_length=2000)
    prevention_tips: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("level", mode="before")
    @classmethod
    def upper(cls, value):
        return value.strip().upper() if isinstance(value, str) else value


def is_configured() -> bool:
    return bool(settings.LLM_BASE_URL)


def parse_answer(content: str) -> LLMAnswer:
    """Validate the model's text; accepts bare JSON or JSON in a Markdown fence."""
    match = FENCE_RE.match(content)
    text = match.group(1) if match else content.strip()
    try:
        return LLMAnswer.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise LLMError(f"answer is not JSON: {exc.msg}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors())
        raise LLMError(f"answer does not match the schema: {problems}") from exc


def _prompt(prediction_type: str, location, factors: list[dict], profile) -> str:
    lines = [
        f"Prediction type: {prediction_type.lower()}.",
        f"Location: {location.name} ({location.latitude}, {location.longitude}).",
        f"User's overall sensitivity: {profile.sensitivity_overall} of 3.",
        "Weather factors over the window (score 0..1, detail):",
        *(
            f"- {f['label']}: score {f['score']}, {f['detail']}, user sensitivity {profile.sensitivity(f['name'])}/3"
            for f in factors
        ),
    ]
    return "\n".join(lines)


def predict(prediction_type: str, location, factors: list[dict], profile) -> Assessment:
    """Ask the model; raises LLMError on any failure (network, HTTP status, malformed answer)."""
    url = f"{settings.LLM_BASE_URL}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {settings.LLM_API_KEY}"} if settings.LLM_API_KEY else {}
    payload = {
        "model": settings.LLM_MODEL,
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": _prompt(prediction_type, location, factors, profile)},
        ],
    }
    sentry_sdk.add_breadcrumb(
        category="llm", message=f"asking {settings.LLM_MODEL}", data={"prediction_type": prediction_type}, level="info"
    )
    with sentry_sdk.start_span(op="ai.chat_completions.create", name=f"LLM {settings.LLM_MODEL}") as span:
        span.set_data("ai.model_id", settings.LLM_MODEL)
        try:
            client = http.session(settings.LLM_RETRIES, 0.5, methods=("POST",), pool_size=settings.LLM_CONCURRENCY)
            response = client.post(url, json=payload, headers=headers, timeout=settings.LLM_TIMEOUT)
        except requests.RequestException as exc:
            raise LLMError(f"LLM not reachable: {http.describe_failure(exc)}") from exc
        span.set_data("http.response.status_code", response.status_code)
        if not response.ok:
            raise LLMError(f"LLM answered {response.status_code}: {response.text[:200]}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError("LLM response is not a chat completion") from exc
        if not isinstance(content, str):
            raise LLMError("LLM message content is not text")
        answer = parse_answer(content)
    sentry_sdk.add_breadcrumb(category="llm", message=f"{settings.LLM_MODEL} said {answer.level}", level="info")
    return Assessment(
        level=answer.level,
        confidence=round(answer.confidence, 2),
        rationale=answer.rationale,
        prevention_tips=answer.prevention_tips,
        factors=factors,
        source="llm",
    )
