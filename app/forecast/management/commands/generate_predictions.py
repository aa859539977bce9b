from django.conf import settings

from forecast import llm, predictions
from forecast.jobs import JobCommand, report_failure


class Command(JobCommand):
    help = (
        "Predict migraine and sinusitis risk for each location's owner window (LLM within "
        "LLM_MAX_CALLS_PER_RUN, else rules), in chunks; see forecast/predictions.py."
    )
    job_name = "generate_predictions"

    def run(self, locations, options):
        budget = predictions.LLMBudget(settings.LLM_MAX_CALLS_PER_RUN)
        done = failed = 0
        for chunk in predictions.generate_all(locations, budget=budget, dry_run=options["dry_run"]):
            for location, exc in chunk.failures:
                report_failure(exc, [location])
                self.item_failed(f"location {location.pk} {location}", exc)
            done, failed = done + chunk.locations - len(chunk.failures), failed + len(chunk.failures)
            self.stdout.write(f"[chunk {chunk.number}/{chunk.chunks}] {chunk}")
        if llm.is_configured():
            self.details = f"; {budget}"
        return done, failed

    def cleanup(self, before):
        return predictions.cleanup(before)
