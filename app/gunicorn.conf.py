"""gunicorn settings for the app (https://docs.gunicorn.org/en/stable/settings.html).

Each value can be overridden by the environment variable named next to it.
"""

import multiprocessing
import os

# GUNICORN_BIND: where to listen; nginx reaches the app on port 8000 inside the network.
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# WEB_CONCURRENCY: worker processes; the usual 2 x CPUs + 1, capped so a large host does not
# start dozens of workers each holding database connections.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
# GUNICORN_THREADS: threads per worker (gthread); page views mostly wait on the database.
threads = int(os.environ.get("GUNICORN_THREADS", 2))
worker_class = "gthread"
# GUNICORN_TIMEOUT: a worker silent for this long is killed and replaced. Adding a place calls
# Open-Meteo synchronously (10 s timeout, retries), so leave room above that.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
# Longer than nginx's upstream keepalive_timeout so nginx closes idle connections first.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 75))
# Recycle a worker now and then so that a slow leak cannot grow forever, but rarely enough that
# restarts are not part of normal latency: at about 900 requests/s, 1,000 restarted every worker
# every 5-6 s. 20,000 is a restart per worker every ~90 s at that rate (bench/serving.py shows
# worker memory flat under load) and every few days at a small site's traffic; the jitter (up to
# 10 % more) keeps workers from restarting together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 20000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 2000))
# Logs to stdout/stderr for the container runtime.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# %(h)s is the client nginx saw: the app's ForwardedForMiddleware sets REMOTE_ADDR before this is logged.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# Worker heartbeat files in memory, not on a possibly slow container filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No control socket (gunicorn 25.1+, for `gunicornc`): nothing here uses it (workers are set by
# WEB_CONCURRENCY, every change is a container restart), and its default place,
# $HOME/.gunicorn/, is /app in the image, which the app user cannot write: each start logged an
# ERROR, which Sentry reported to GlitchTip.
control_socket_disable = True
# Load the app (Django, the settings, Sentry) once in the master and fork the
# workers from it. A new or recycled worker then serves at once (importing everything took a
# worker 2.6 s under load, and its first request waited for it), and workers share the loaded
# code's memory. A code change needs a restart of the container, which every deploy is. What the
# master opened must not be shared by the workers: see pre_fork and post_fork.
preload_app = True


def pre_fork(server, worker):
    """In the master: a database connection open here would be inherited by every worker, which
    would then talk over one socket at once. None is opened while loading the app; make sure."""
    from django.db import connections

    connections.close_all()


def post_fork(server, worker):
    """In each new worker: its own Sentry client. The one created in the master at start-up would
    share its keep-alive connection to GlitchTip and its queue's locks with every worker (and
    those locks may be held by the master's sender thread at the moment of the fork)."""
    from django.conf import settings

    from config.sentry import init_sentry

    init_sentry(settings.SENTRY)
