from forecast import weather
from forecast.jobs import JobCommand


class Command(JobCommand):
    help = "Fetch the hourly forecast of every location from Open-Meteo and upsert it."
    job_name = "collect_weather_data"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--hours", type=int, default=72, help="Hours ahead to fetch (default 72).")

    def process(self, location, options):
        return weather.collect(location, hours=options["hours"], dry_run=options["dry_run"])

    def cleanup(self, before):
        return weather.cleanup(before)
