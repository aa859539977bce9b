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
# Recycle workers now and then so a slow leak cannot grow forever.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 1000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 100))
# Logs to stdout/stderr for the container runtime.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# %(h)s is the client nginx saw: the app's ForwardedForMiddleware sets REMOTE_ADDR before this is logged.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# Worker heartbeat files in memory, not on a possibly slow container filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Settings (and Sentry) are loaded in each worker after the fork, never shared across processes.
preload_app = False
