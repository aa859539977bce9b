"""Settings for the forecast app, read from environment variables only (12-factor).

Every variable has an embedded default that lets the app run with no services at all:
SQLite, a local-memory cache, e-mail printed to the console, Sentry off. The env files in
`env/` set the real values per environment. A bad value stops start-up with an error that
names the variable (environs collects them all and `seal()` reports them together).
Any variable NAME may instead be read from the file named by NAME_FILE (Docker and Kubernetes
secrets; see config/secret_files.py).
"""

import json
import logging
import re
import tomllib
from datetime import timedelta
from pathlib import Path

import dj_email_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from environs import EnvError, EnvValidationError
from marshmallow import ValidationError
from marshmallow.validate import URL, Range, Regexp

from config.secret_files import SecretFileEnv
from config.sentry import SentryConfig, init_sentry

BASE_DIR = Path(__file__).resolve().parent.parent

# eager=False: collect every invalid variable, then report them all at seal().
env = SecretFileEnv(eager=False)
http_url = URL(schemes={"http", "https"}, require_tld=False)
# django-ratelimit's rate syntax: a count per (optionally multiplied) second, minute, hour or day.
rate = Regexp(r"^[1-9][0-9]*/([1-9][0-9]*)?[smhd]$", error="Not a rate like 10/m, 30/h or 5/10m.")

# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
# True by default so that a bare checkout runs (`manage.py runserver` with no environment). Everything
# deployed sets false: the app image (ENV in the Dockerfile) and env/defaults.env; only
# env/development.env turns it on, and scripts/check-env refuses it in staging and production.
DEBUG = env.bool("DJANGO_DEBUG", True)
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = env.str("DJANGO_SECRET_KEY", "")
# https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
# https://docs.djangoproject.com/en/5.2/ref/settings/#csrf-trusted-origins
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Behind nginx: take the client address from the X-Forwarded-For entry nginx appends
# (see config.middleware.ForwardedForMiddleware). Off when clients can reach the app directly.
USE_X_FORWARDED_FOR = env.bool("DJANGO_USE_X_FORWARDED_FOR", False)

# ------------------------------------------------------------------------------
# HTTPS (production sets these; TLS ends in front of nginx, which forwards the scheme)
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-ssl-redirect
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", False)
# https://docs.djangoproject.com/en/5.2/ref/settings/#session-cookie-secure
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", False)
# https://docs.djangoproject.com/en/5.2/ref/settings/#csrf-cookie-secure
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", False)
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-hsts-seconds
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", 0, validate=Range(min=0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# ------------------------------------------------------------------------------
# Applications
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Serve static files through whitenoise in `runserver` too, as in production.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "django_ratelimit",
    "accounts",
    "forecast",
    "outages",
]

MIDDLEWARE = [
    # First: the readiness probe answers before host validation and HTTPS redirects (config/health.py).
    "config.health.ReadinessMiddleware",
    "config.middleware.ForwardedForMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.OneTryAuthenticationMiddleware",
    "config.middleware.SentryUserMiddleware",
    "config.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Django's 405 is empty: the site's error page instead (inside, so that the page knows the user).
    "config.errors.MethodNotAllowedPageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out login into the lock-out page (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Database and cache
# ------------------------------------------------------------------------------
# https://github.com/jazzband/dj-database-url (postgres://user:pass@host:5432/name)
DATABASES = {
    "default": env.dj_db_url(
        "DATABASE_URL",
        f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env.int("DATABASE_CONN_MAX_AGE", 60, validate=Range(min=0)),
        conn_health_checks=True,
    )
}
# (None when DATABASE_URL is malformed: that is reported with the other bad values below.)
if (DATABASES["default"] or {}).get("ENGINE") == "django.db.backends.postgresql":
    # A database whose node is gone never answers: without a limit a request waits for the kernel's TCP
    # timeouts (minutes), holding a gunicorn thread, until the app answers nothing at all, /healthz
    # included. libpq's own limits: 2 s to connect (its minimum), and a connection whose data stays
    # unacknowledged for 5 s is dropped; the request then fails at once with the error page.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"connect_timeout": 2, "tcp_user_timeout": 5000})
    # Django's backend, failing at once for 2 s after a failed connection (config/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# https://docs.djangoproject.com/en/5.2/topics/cache/#redis (redis://host:6379/0); empty: in-process cache
REDIS_URL = env.str("REDIS_URL", "", validate=lambda v: not v or URL(schemes={"redis", "rediss"}, require_tld=False)(v))
# A hung Redis costs a request about a second, not the kernel's minutes-long connect timeout.
REDIS_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
# "default": the plain Redis cache (what /readyz checks). "limits": where the abuse limits count
# (login failures, rate limits), the same Redis failing open: with Redis away log-in still works,
# unthrottled, and each process logs one WARNING (config/cache.py).
CACHES = (
    {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_OPTIONS,
        },
        "limits": {"BACKEND": "config.cache.FailOpenRedisCache", "LOCATION": REDIS_URL, "OPTIONS": REDIS_OPTIONS},
    }
    if REDIS_URL
    else {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "limits"},
    }
)
# Login failures live in Redis when there is one (shared by every worker, expire by themselves);
# without it (a bare checkout) in the database, because the in-process cache is not shared.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler" if REDIS_URL else "axes.handlers.database.AxesDatabaseHandler"
AXES_CACHE = "limits"
RATELIMIT_USE_CACHE = "limits"
# A count the cache could not give is no reason to refuse (config/cache.py answers 1 anyway).
RATELIMIT_FAIL_OPEN = True
# django-ratelimit warns about any cache it does not list, Django's own RedisCache included,
# although its INCR is atomic; without Redis (a bare checkout, one process) the in-process cache will do.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] + ([] if REDIS_URL else ["django_ratelimit.E003"])

# ------------------------------------------------------------------------------
# Auth
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "accounts.validators.NotOnlyWhitespaceValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# https://django-axes.readthedocs.io/en/latest/2_installation.html: the limits' backends first, so that
# they refuse a paused client before the password is even checked (accounts/limits.py).
AUTHENTICATION_BACKENDS = [
    "accounts.limits.AddressFailureBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "forecast:location-list"
LOGOUT_REDIRECT_URL = "login"
# https://docs.djangoproject.com/en/5.2/ref/settings/#password-reset-timeout
# Two hours instead of three days: a reset link opens an account holding health data.
PASSWORD_RESET_TIMEOUT = 2 * 3600

# Password throttling (https://django-axes.readthedocs.io/en/latest/4_configuration.html) for the
# app's login, /admin/login/, and the password the delete-account and change-password forms ask
# for (accounts/limits.py). Wrong passwords pause the pair of account and client address: a
# stranger pauses only their own address, never the owner, who logs in from hers. A correct
# password is refused too until the pause has passed. One address guessing at many accounts is
# paused after LOGIN_ADDRESS_FAILURE_LIMIT wrong passwords within LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, validate=Range(min=1, max=100))
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", 30, validate=Range(min=1, max=10000))
# A timedelta once every variable is known valid (below, after seal()).
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", 15, validate=Range(min=1, max=1440))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The right password from that address starts its count again.
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# The address ForwardedForMiddleware took from nginx (django-ipware's guessing is not needed).
AXES_CLIENT_IP_CALLABLE = "config.middleware.client_ip"
# Successful log-ins (with address and browser) are not recorded: less personal data kept.
AXES_DISABLE_ACCESS_LOG = True

# Per-user limits on work that calls Open-Meteo (https://django-ratelimit.readthedocs.io/en/stable/rates.html):
# place searches (geocoding), and forecast fetches (the refresh button and adding a place).
# django-ratelimit counts in the shared cache (Redis), so all gunicorn workers see one count, and
# tells the time left in the window, which the "try again in N minutes" messages use.
RATELIMIT_PLACE_SEARCH = env.str("RATELIMIT_PLACE_SEARCH", "10/m", validate=rate)
RATELIMIT_FORECAST_FETCH = env.str("RATELIMIT_FORECAST_FETCH", "30/h", validate=rate)


def _link_rate(value: str) -> None:
    """A rate whose period the e-mailed links outlive: a mailbox that got its share has a working link."""
    rate(value)
    number, unit = value.split("/")[1][:-1] or "1", value[-1]
    if int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit] > PASSWORD_RESET_TIMEOUT:
        raise ValidationError(
            f"Count over {PASSWORD_RESET_TIMEOUT // 3600} hours at most, the time an e-mailed link works."
        )


# E-mails with a link into an account (a password reset, finishing a registration, "you already
# have an account"), per client address (over it: 429) and per mailbox, the address lower-cased
# (over it: the same answer, no mail; the links already sent still work). See accounts/limits.py.
RATELIMIT_PASSWORD_RESET = env.str("RATELIMIT_PASSWORD_RESET", "5/h", validate=_link_rate)
# The most places one account may follow.
MAX_LOCATIONS_PER_USER = env.int("MAX_LOCATIONS_PER_USER", 20, validate=Range(min=1, max=1000))

# ------------------------------------------------------------------------------
# Browser security headers
# ------------------------------------------------------------------------------
# https://django-csp.readthedocs.io/en/latest/configuration.html: no inline script or style
# anywhere. The app's pages have no JavaScript (the admin's comes from its static files); styles
# come from site.css, the chart is plain SVG.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Error pages with the site's layout (templates/403_csrf.html) for a stale form.
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

# ------------------------------------------------------------------------------
# Internationalisation
# ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------
# Static files (whitenoise: compressed, hashed names, far-future caching)
# ------------------------------------------------------------------------------
# https://whitenoise.readthedocs.io/en/stable/django.html
STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# ------------------------------------------------------------------------------
# E-mail
# ------------------------------------------------------------------------------
# https://github.com/migonzalvar/dj-email-url: smtp://host:25 (plain), submission://user:pass@host:587
# (STARTTLS), console:// (printed, the default). GlitchTip reads the same EMAIL_URL with django-environ,
# whose spellings smtp+tls:// (STARTTLS) and smtp+ssl:// (TLS from the start) the bundle documents: they
# are read here as dj-email-url's equivalents. Any other scheme it does not know would silently leave
# Django's SMTP on localhost:25 without TLS, so it stops start-up (below).
EMAIL_URL = env.str("EMAIL_URL", "console://")
EMAIL_URL_SETTINGS = dj_email_url.parse(
    re.sub(r"^smtp\+tls://", "submission://", EMAIL_URL)
    if not EMAIL_URL.startswith("smtp+ssl://")
    else re.sub(r"^smtp\+ssl://", "smtp://", EMAIL_URL) + ("&" if "?" in EMAIL_URL else "?") + "ssl=True"
)
vars().update(EMAIL_URL_SETTINGS)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", 10, validate=Range(min=1))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Migraine Forecast <forecast@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ------------------------------------------------------------------------------
# Outside services
# ------------------------------------------------------------------------------
# https://open-meteo.com/en/docs
OPEN_METEO_FORECAST_URL = env.str(
    "OPEN_METEO_FORECAST_URL", "https://api.open-meteo.com/v1/forecast", validate=http_url
)
# https://open-meteo.com/en/docs/geocoding-api
OPEN_METEO_GEOCODING_URL = env.str(
    "OPEN_METEO_GEOCODING_URL", "https://geocoding-api.open-meteo.com/v1/search", validate=http_url
)
# The jobs' policy: seconds per try, and (below) retries with backoff.
OPEN_METEO_TIMEOUT = env.float("OPEN_METEO_TIMEOUT", 10.0, validate=Range(min=0.1))
# A page's policy: the seconds one request (a place search, adding or refreshing a place) may spend
# on Open-Meteo in all, one try per call, no retries; what does not fit waits for collect_weather_data.
OPEN_METEO_PAGE_TIMEOUT = env.float("OPEN_METEO_PAGE_TIMEOUT", 5.0, validate=Range(min=0.1, max=30))
# Attempts after the first one, with exponential backoff, on 429/5xx and connection errors.
OPEN_METEO_RETRIES = env.int("OPEN_METEO_RETRIES", 3, validate=Range(min=0, max=10))
OPEN_METEO_BACKOFF = env.float("OPEN_METEO_BACKOFF", 0.5, validate=Range(min=0))
# Locations per forecast request (Open-Meteo takes up to 1,000; see forecast/open_meteo.py). 100 keeps
# URLs short (about 1.6 KB) and a refused batch cheap to split, while 10,000 places need only 100 requests.
OPEN_METEO_BATCH_SIZE = env.int("OPEN_METEO_BATCH_SIZE", 100, validate=Range(min=1, max=1000))
# Forecast requests in flight at once during collect_weather_data (and pooled connections kept).
OPEN_METEO_CONCURRENCY = env.int("OPEN_METEO_CONCURRENCY", 4, validate=Range(min=1, max=32))

# OpenAI-compatible chat completions API; empty LLM_BASE_URL means the rule-based predictor only.
LLM_BASE_URL = (env.str("LLM_BASE_URL", "", validate=lambda v: not v or http_url(v)) or "").rstrip("/")
LLM_MODEL = env.str("LLM_MODEL", "gpt-4o-mini")
LLM_API_KEY = env.str("LLM_API_KEY", "")
LLM_TIMEOUT = env.float("LLM_TIMEOUT", 30.0, validate=Range(min=0.1))
LLM_RETRIES = env.int("LLM_RETRIES", 1, validate=Range(min=0, max=5))
# LLM requests in flight at once during generate_predictions (mind the provider's rate limits).
LLM_CONCURRENCY = env.int("LLM_CONCURRENCY", 4, validate=Range(min=1, max=32))
# LLM calls one generate_predictions run may make (each location asks once per prediction type);
# past the budget the rules predict, and the run's summary says how many. 0: rules only.
LLM_MAX_CALLS_PER_RUN = env.int("LLM_MAX_CALLS_PER_RUN", 500, validate=Range(min=0))

# ------------------------------------------------------------------------------
# Jobs and scheduler
# ------------------------------------------------------------------------------
# The jobs and their default cron schedules (UTC) are listed in config/jobs.toml, a file the
# host-side scripts read too; SCHEDULE_<JOB> overrides one per environment.
with open(BASE_DIR / "config" / "jobs.toml", "rb") as jobs_file:
    JOBS: dict[str, str] = tomllib.load(jobs_file)["schedule"]
SCHEDULE = {job: env.str(f"SCHEDULE_{job.upper()}", default) for job, default in JOBS.items()}


@env.parser_for("heartbeat_urls")
def _heartbeat_urls(value: str) -> dict[str, str]:
    """A JSON object of job name to URL; empty: no job is pinged."""
    if not value.strip():
        return {}
    try:
        urls = json.loads(value)
    except ValueError:
        raise EnvError("Not valid JSON.") from None
    if not isinstance(urls, dict):
        raise EnvError("Must be a JSON object of job name to URL.")
    for job, url in urls.items():
        if job not in JOBS:
            raise EnvError(f"Unknown job {job!r} (jobs: {', '.join(JOBS)}).")
        http_url(url)
    return urls


# GlitchTip heartbeat monitor URL per job (written by scripts/bootstrap-glitchtip); a job without
# one is not pinged. https://glitchtip.com/documentation/uptime-monitoring
HEARTBEAT_URLS: dict[str, str] = env.heartbeat_urls("HEARTBEAT_URLS", "")
# The scheduler touches this file while it runs; `manage.py scheduler --check` (the container's
# healthcheck) reads its age.
SCHEDULER_HEARTBEAT_FILE = env.path("SCHEDULER_HEARTBEAT_FILE", Path("/tmp/scheduler-alive"))
# Rows older than this are removed by the jobs' --cleanup option.
DATA_RETENTION_DAYS = env.int("DATA_RETENTION_DAYS", 90, validate=Range(min=1))
# A forecast/actual temperature difference above this is a data-quality anomaly.
ANOMALY_TEMPERATURE_DELTA = env.float("ANOMALY_TEMPERATURE_DELTA", 10.0, validate=Range(min=0))
# Public address of the app, used for links in e-mails.
APP_PUBLIC_URL = (env.str("APP_PUBLIC_URL", "http://localhost:8000", validate=http_url) or "").rstrip("/")

# ------------------------------------------------------------------------------
# Outage watcher (outages/, the outage-watcher service): GlitchTip shares the database, so when
# either is down GlitchTip alerts nobody; the watcher mails from outside both.
# ------------------------------------------------------------------------------
# Seconds between two checks of the database and of GlitchTip's event intake.
OUTAGE_CHECK_INTERVAL_SECONDS = env.int("OUTAGE_CHECK_INTERVAL_SECONDS", 15, validate=Range(min=1, max=3600))
# Seconds one check may take before it counts as failed (libpq counts whole seconds, at least 2).
OUTAGE_CHECK_TIMEOUT_SECONDS = env.int("OUTAGE_CHECK_TIMEOUT_SECONDS", 5, validate=Range(min=2, max=60))
# Seconds of failed checks before the e-mail; a shorter failure (a restart) mails nobody.
OUTAGE_ALERT_AFTER_SECONDS = env.int("OUTAGE_ALERT_AFTER_SECONDS", 120, validate=Range(min=0, max=86400))
# Who is mailed: ALERT_EMAILS (commas), or when it is empty the GlitchTip admin, as GlitchTip's alerts do.
ALERT_EMAILS = env.str("ALERT_EMAILS", "")
GLITCHTIP_ADMIN_EMAIL = env.str("GLITCHTIP_ADMIN_EMAIL", "")
# The environment's name (env/<APP_ENV>.env), which the e-mails give with the commands to run.
APP_ENV = env.str("APP_ENV", "")
# The watcher's last round, for the container's healthcheck (python -m outages.status FILE).
OUTAGE_STATUS_FILE = env.path("OUTAGE_STATUS_FILE", Path("/tmp/outage-watcher.json"))

# ------------------------------------------------------------------------------
# Logging: to stdout, for the container runtime to collect
# ------------------------------------------------------------------------------
LOG_LEVEL = env.log_level("DJANGO_LOG_LEVEL", logging.INFO)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # urllib3 logs each connection and request at DEBUG (every call to Open-Meteo, every envelope to
    # GlitchTip), burying the app's own lines when development runs at DEBUG.
    "loggers": {"urllib3": {"level": max(LOG_LEVEL, logging.INFO)}},
}

# ------------------------------------------------------------------------------
# Sentry / GlitchTip (see config/sentry.py for what is sent, scrubbed, kept and dropped)
# ------------------------------------------------------------------------------
SENTRY = SentryConfig.from_env(env)

try:
    env.seal()
except EnvValidationError as exc:
    raise ImproperlyConfigured(str(exc)) from None

AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)

if "EMAIL_BACKEND" not in EMAIL_URL_SETTINGS:
    raise ImproperlyConfigured(
        "EMAIL_URL has a scheme the e-mail URL parser does not know; use smtp://, smtp+tls:// (STARTTLS), "
        "smtp+ssl:// or console://."
    )

if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false.")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

init_sentry(SENTRY)
