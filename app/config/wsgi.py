"""WSGI entry point used by gunicorn (see gunicorn.conf.py) and runserver (WSGI_APPLICATION).

The liveness probe and the collected static files are answered here, in front of Django.
Sentry's Django integration wraps Django's handler: every request there gets an isolation
scope, a transaction (sampled or not) and spans around each middleware, about 0.4 ms of CPU
even when it is not traced, several times what a probe or a CSS file costs (bench/serving.py).
Neither gains anything from it, so they cost the same with Sentry on as with Sentry off.
"""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_wsgi_application()

from whitenoise.base import WhiteNoise  # noqa: E402  (after Django's set-up)
from whitenoise.middleware import WhiteNoiseMiddleware  # noqa: E402
from whitenoise.string_utils import decode_path_info  # noqa: E402

from config.health import LIVENESS_PATH, liveness  # noqa: E402


class AnsweredBeforeDjango:
    def __init__(self, django_app):
        self.django_app = django_app
        # The same files, headers and caching as the middleware in settings.MIDDLEWARE, which stays
        # for `runserver` with DEBUG (files found in the apps' folders, nothing collected here).
        self.static_files = WhiteNoiseMiddleware().files

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == LIVENESS_PATH:
            return liveness(environ, start_response)
        static_file = self.static_files.get(decode_path_info(path))
        if static_file is not None:
            return WhiteNoise.serve(static_file, environ, start_response)
        return self.django_app(environ, start_response)


application = AnsweredBeforeDjango(django_application)
