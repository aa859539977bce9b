"""WSGI entry point used by gunicorn (see gunicorn.conf.py) and runserver (WSGI_APPLICATION).

The liveness probe and, in production, the collected static files are answered here, in front of
Django. Sentry's Django integration wraps Django's handler: every request there gets an isolation
scope and a transaction (sampled or not), then Django's middleware runs, before WhiteNoise's
middleware would find the file. In front, a static file takes half the CPU (bench/serving.py,
"static file: static via Django"), and neither a probe nor a file gains anything from Sentry.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (after Django's set-up)
from whitenoise import WhiteNoise  # noqa: E402

from config.health import LIVENESS_PATH, liveness  # noqa: E402

# How ManifestStaticFilesStorage names a collected copy: 12 hex digits of its content's hash before
# the extension (css/site.3f2a9c0b1d4e.css). Such a file never changes: cached for ever.
HASHED_NAME = r"\.[0-9a-f]{12}\.[^./]+$"


class LivenessBeforeDjango:
    def __init__(self, django_app):
        self.django_app = django_app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == LIVENESS_PATH:
            return liveness(environ, start_response)
        return self.django_app(environ, start_response)


application = LivenessBeforeDjango(django_application)
if not settings.DEBUG:
    # WhiteNoise's documented WSGI form, set as its Django middleware (settings.MIDDLEWARE) sets
    # itself when DEBUG is off: the files of STATIC_ROOT, a minute's caching (its default) and for
    # ever for hashed names. With DEBUG (runserver) the middleware alone serves, finding the files
    # in the apps' folders.
    application = WhiteNoise(
        application, root=settings.STATIC_ROOT, prefix=settings.STATIC_URL, immutable_file_test=HASHED_NAME
    )
