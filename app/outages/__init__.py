"""The outage watcher: e-mails a person when the app's database or GlitchTip stays unreachable.

GlitchTip shares the app's Postgres server, so when the database is down GlitchTip can neither
store the app's errors nor send its own alerts, and its uptime monitor goes quiet with it. The
`outage-watcher` service (compose.yml) runs `manage.py watch_outages`, which needs neither: it
checks both every OUTAGE_CHECK_INTERVAL_SECONDS and mails ALERT_EMAILS (empty: the GlitchTip
admin) through the app's EMAIL_URL once a check has failed for OUTAGE_ALERT_AFTER_SECONDS, then
once more when everything is back.

- checks.py: what is checked, and how (each the way its user reaches it);
- watch.py: what failed since when, and which e-mail is due (one per outage, one on recovery);
- notices.py: the e-mails' text, and sending them;
- status.py: the last round in a file, and the container's healthcheck that reads it.
"""
