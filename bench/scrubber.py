"""What the privacy scrubber (config/sentry.py) adds to each error event sent: building 200
realistic events (20 frames, 30 breadcrumbs) against building and scrubbing them. No services."""

from __future__ import annotations

from bench.report import Measure, interleaved

BATCH = 200


def measures(rounds: int) -> list[Measure]:
    from config.sentry import Scrubber, SentryConfig

    scrubber = Scrubber(SentryConfig(dsn="http://k@h/1", secret_values=("sk-live-0123456789abcdef", "s3cret-db-pw")))

    def event():
        return {
            "message": "login failed for jane@example.com with password=hunter22",
            "exception": {
                "values": [
                    {
                        "type": "WeatherAPIError",
                        "value": "Open-Meteo forecast answered 500",
                        "stacktrace": {
                            "frames": [
                                {
                                    "function": f"f{i}",
                                    "vars": {"i": str(i), "key": "x" * 40},
                                    "pre_context": ["line"] * 5,
                                }
                                for i in range(20)
                            ]
                        },
                    }
                ]
            },
            "breadcrumbs": {"values": [{"category": "weather", "message": f"fetch {i}"} for i in range(30)]},
            "contexts": {"weather_api": {"url": "https://api.open-meteo.com/v1/forecast", "status_code": 500}},
            "request": {"url": "http://localhost/locations/add/", "headers": {"User-Agent": "x"}},
        }

    measure = Measure(
        f"{BATCH} error events (20 frames, 30 crumbs)",
        "ms",
        ratio_of=("built and scrubbed", "built"),
        target="information",
    )
    print(measure.name)

    def build():
        for _ in range(BATCH):
            event()

    def build_and_scrub():
        for _ in range(BATCH):
            scrubber.event(event())

    samples = interleaved(max(rounds, 7), {"built": build, "built and scrubbed": build_and_scrub})
    measure.samples = {variant: [seconds * 1000 for seconds in values] for variant, values in samples.items()}
    return [measure]
