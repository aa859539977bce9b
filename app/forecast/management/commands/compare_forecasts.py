from forecast import comparison
from forecast.jobs import JobCommand


class Command(JobCommand):
    help = "Compare stored forecasts with observed weather for past hours and flag anomalies."
    job_name = "compare_forecasts"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--hours", type=int, default=24, help="Past hours to compare (default 24).")

    def process(self, location, options):
        return comparison.compare(location, hours=options["hours"], dry_run=options["dry_run"])

    def cleanup(self, before):
        return comparison.cleanup(before)
