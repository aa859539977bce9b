from forecast import notifications
from forecast.jobs import JobCommand


class Command(JobCommand):
    help = "E-mail each user one combined alert for new MEDIUM/HIGH predictions, within their limits."
    job_name = "process_notifications"
    item_label = "user"

    def items(self, options):
        users = notifications.users_with_pending()
        if options["location_ids"]:
            users = users.filter(locations__in=self.locations(options)).distinct()
        return users

    def process(self, user, options):
        return notifications.notify(user, dry_run=options["dry_run"])
