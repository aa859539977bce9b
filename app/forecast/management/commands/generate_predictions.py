from forecast import predictions
from forecast.jobs import JobCommand


class Command(JobCommand):
    help = "Predict migraine and sinusitis risk for each location's owner window (LLM, else rules)."
    job_name = "generate_predictions"

    def process(self, location, options):
        return predictions.generate(location, dry_run=options["dry_run"])

    def cleanup(self, before):
        return predictions.cleanup(before)
