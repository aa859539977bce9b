from forecast import weather
from forecast.jobs import JobCommand, report_failure


class Command(JobCommand):
    help = (
        "Fetch the hourly forecast of every location from Open-Meteo (batched, concurrent; "
        "see forecast/weather.py) and upsert it."
    )
    job_name = "collect_weather_data"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--hours", type=int, default=72, help="Hours ahead to fetch (default 72).")

    def run(self, locations, options):
        done = failed = requests = points = 0
        for batch in weather.collect_all(locations, hours=options["hours"], dry_run=options["dry_run"]):
            for failure in batch.failures:
                report_failure(failure.error, failure.locations)
                for location in failure.locations:
                    self.item_failed(f"location {location.pk} {location}", failure.error)
            done, failed = done + batch.ok, failed + batch.failed
            requests, points = requests + batch.requests, points + batch.points
            self.stdout.write(f"[batch {batch.number}/{batch.batches}] {batch}")
        self.details = f" ({points} grid point(s), {requests} request(s))"
        return done, failed

    def cleanup(self, before):
        return weather.cleanup(before)
