"""The browser suite: headless Chromium against the app under real gunicorn (the `gunicorn`
fixture: the harness's Postgres, Redis and fake Open-Meteo; Sentry to the local receiver)."""

import shutil

import pytest
from django.core.cache import cache

from tests.browser.chromium import Browser


@pytest.fixture(scope="session")
def chromium_session(gunicorn, tmp_path_factory):
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.fail("the browser suite needs Debian's chromium and chromium-driver (see README: Running the tests)")
    browser = Browser(gunicorn.url, tmp_path_factory.mktemp("downloads"))
    yield browser
    browser.close()


@pytest.fixture
def browser(chromium_session, transactional_db):
    """The shared Chromium, logged out, from this machine, with no downloads, and no login failures or rate
    limits left over."""
    cache.clear()
    chromium_session.driver.delete_all_cookies()
    chromium_session.client_address(None)
    for download in chromium_session.downloads.iterdir():
        download.unlink()
    chromium_session.driver.get_log("browser")  # drop what earlier tests left in the console log
    yield chromium_session
