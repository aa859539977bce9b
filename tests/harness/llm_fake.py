"""An OpenAI-compatible chat completions API (POST /v1/chat/completions), in the real format."""

from __future__ import annotations

import json
import time

from tests.harness.http_fake import FakeHTTPServer, Request, Response

API_KEY = "sk-test-llm-key-0123456789abcdef"
HIGH_ANSWER = {
    "level": "HIGH",
    "confidence": 0.8,
    "rationale": "A steep pressure drop is coming.",
    "prevention_tips": ["Keep medication at hand.", "Drink enough water."],
}


def completion(content: str, model: str = "test-model") -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
    }


def error(status: int, message: str, kind: str) -> Response:
    return Response(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})


class LLMFake(FakeHTTPServer):
    name = "llm"

    def __init__(self):
        super().__init__()
        self.content = json.dumps(HIGH_ANSWER)

    def reset(self):
        super().reset()
        self.content = json.dumps(HIGH_ANSWER)

    def route(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return error(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error")
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return error(401, "Incorrect API key provided.", "invalid_request_error")
        try:
            payload = request.json()
        except ValueError:
            return error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        if not payload.get("messages"):
            return error(400, "'messages' is a required property", "invalid_request_error")
        return Response(200, completion(self.content, payload.get("model", "test-model")))
