"""A new user's whole visit, in Chromium at a desktop's and a phone's width.

Every page it reaches must fit the screen, log nothing to the console and break no rule of the
Content-Security-Policy (Browser.check_page); each is saved as a screenshot.
"""

import csv
import io
import json
import re

import pytest
from selenium.webdriver.common.by import By

from forecast.models import Location
from tests.browser.chromium import DESKTOP, PHONE
from tests.harness.open_meteo_fake import stormy_weather

PASSWORD = "a-Long-browser-passw0rd"
NEW_PASSWORD = "another-Long-passw0rd-2"
LONG_NAME = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch-Ynys-Mon"


def emailed_link(smtp, to: str, path: str) -> str:
    """The path of the link to `path...` in the newest e-mail to `to` (the app sends it before answering)."""
    message = [m for m in smtp.messages if m["To"] == to][-1]
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    return re.search(rf"https?://[^/\s]+({re.escape(path)}\S+/)", text.get_payload(decode=True).decode())[1]


def see(browser, name: str, status: int | None = None) -> None:
    browser.check_page(expected_status_in_console=status)
    browser.screenshot(name)


def assert_chart_has_labelled_axes(browser) -> None:
    titles = [t.text for t in browser.find_all("figure.chart .panel-title")]
    assert titles == ["Air pressure (hPa)", "Temperature (°C)", "Rain and snow (mm)"]
    panels = browser.find_all("figure.chart div.panel")
    assert len(panels) == 3
    for panel, unit in zip(panels, ("hPa", "°C", "mm"), strict=True):
        y_labels = [t.text for t in panel.find_elements(By.CSS_SELECTOR, "svg.y-axis text.y")]
        assert len(y_labels) >= 3 and all(label.endswith(f" {unit}") for label in y_labels), y_labels
        plot = panel.find_element(By.CSS_SELECTOR, "svg.plot-area")
        x_labels = [t.text for t in plot.find_elements(By.CSS_SELECTOR, "text.x") if t.is_displayed()]
        assert len(x_labels) >= 3 and all(label for label in x_labels), x_labels
        assert plot.find_element(By.CSS_SELECTOR, "title").get_attribute("textContent").endswith(f"({unit})")
        assert plot.find_element(By.CSS_SELECTOR, "desc").get_attribute("textContent")
        assert plot.find_elements(By.CSS_SELECTOR, "line.now"), "now is not marked"
        assert plot.find_elements(By.CSS_SELECTOR, "rect.window.high"), "the risk window is not marked"
        # The labels are drawn at their true size, not shrunk with the chart.
        assert min(t.size["height"] for t in panel.find_elements(By.CSS_SELECTOR, "text")) >= 11
    assert browser.find("#chart-heading").text == "The next 48 hours"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=lambda v: v.name)
def test_a_new_user_from_registration_to_deleting_the_account(browser, open_meteo, smtp, viewport):
    open_meteo.weather = stormy_weather
    browser.use(viewport)
    username = f"sam-{viewport.name}"

    browser.visit("/accounts/register/")
    see(browser, "01-register")
    browser.fill({"email": f"{username}@example.com"})
    browser.submit("Send me the link")
    assert "Check your inbox" in browser.text()
    see(browser, "01a-register-sent")
    browser.visit(emailed_link(smtp, f"{username}@example.com", "/accounts/register/"))
    assert f"{username}@example.com" in browser.text()
    see(browser, "01b-register-finish")
    browser.fill({"username": username, "password1": PASSWORD, "password2": PASSWORD})
    browser.submit("Create my account")
    assert browser.path == "/accounts/profile/"
    assert username in browser.text() and "Not sensitive" in browser.text()
    see(browser, "02-profile")

    # A place by search: the fake knows two Berlins.
    browser.visit("/locations/add/?query=Berlin")
    see(browser, "03-search-results")
    browser.submit("Add Berlin, Land Berlin, Germany")
    assert "Berlin: forecast fetched and risk predicted." in browser.text()
    assert "Migraine risk: High" in browser.text()
    assert "CET" in browser.text() or "CEST" in browser.text()  # local time, not UTC
    assert_chart_has_labelled_axes(browser)
    see(browser, "04-place-berlin")
    browser.find("details summary").click()
    assert "Weight for you" in browser.text()
    see(browser, "05-place-numbers")

    # A place by pasted coordinates: both numbers in one box, more decimals than the model keeps.
    browser.visit("/locations/add/")
    browser.fill({"name": "San Francisco", "latitude": "37.7749295, -122.4194155"})
    browser.submit("Add place")
    assert "37.77493, -122.41942" in browser.text()
    assert "PST" in browser.text() or "PDT" in browser.text()

    # Decimal commas, and a long name without spaces.
    browser.visit("/locations/add/")
    browser.fill({"name": LONG_NAME, "latitude": "1,5", "longitude": "103,8"})
    browser.submit("Add place")
    assert "1.50000, 103.80000" in browser.text()
    see(browser, "06-place-long-name")
    assert Location.objects.filter(user__username=username).count() == 3

    browser.click_link("Places")
    assert browser.text().count("Migraine: High") == 3
    see(browser, "07-places")

    browser.click_link("History")
    see(browser, "08-history")
    browser.visit("/history/?location=999999")
    assert "The filter was not applied" in browser.text()
    content = browser.download("Download as CSV", ".csv").read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["window_start", "window_end", "location"] and len(rows) == 7

    browser.click_link("Profile")
    export = json.loads(browser.download("Download all your data", ".json").read_text())
    assert export["account"]["username"] == username and len(export["locations"]) == 3
    assert {p["timezone"] for p in export["locations"]} == {"Europe/Berlin", "America/Los_Angeles", "GMT"}

    browser.visit("/no-such-page/")
    assert "This page does not exist" in browser.text()
    see(browser, "09-not-found", status=404)

    # Change the password, log out, and log in with the new one.
    browser.visit("/accounts/password/")
    see(browser, "10-password-change")
    browser.fill({"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    browser.submit("Change password")
    assert "Your password was changed." in browser.text()
    browser.submit("Log out")
    browser.fill({"username": username, "password": NEW_PASSWORD})
    browser.submit("Log in")
    assert browser.path == "/"

    browser.visit("/accounts/delete/")
    see(browser, "11-delete-account")
    browser.fill({"password": NEW_PASSWORD})
    browser.submit("Delete my account and all my data")
    assert "Your account and all its data were deleted." in browser.text()
    see(browser, "12-deleted")
    assert not Location.objects.filter(user__username=username).exists()


def test_a_stale_form_gets_the_sites_error_page(browser):
    browser.use(PHONE)
    browser.visit("/accounts/login/")
    browser.driver.delete_cookie("csrftoken")
    browser.fill({"username": "anyone", "password": "whatever-it-is"})
    browser.submit("Log in")
    assert "This form has expired" in browser.text()
    assert browser.find_all("header.top nav a")
    see(browser, "13-csrf-failure", status=403)


def test_the_admin_works_under_the_content_security_policy(browser, admin_user):
    browser.use(DESKTOP)
    browser.visit("/admin/login/")
    see(browser, "14-admin-login")
    browser.fill({"username": "admin", "password": "password"})
    browser.submit("Log in")
    browser.visit("/admin/forecast/location/")
    assert "Select location to change" in browser.text()
    see(browser, "15-admin-locations")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=lambda v: v.name)
def test_a_strangers_wrong_passwords_pause_only_the_stranger(browser, django_user_model, viewport):
    """The owner's log-in from her own network works while the stranger's network sees the lock-out page."""
    django_user_model.objects.create_user("olivia", "olivia@example.com", PASSWORD)
    browser.use(viewport)
    browser.client_address("198.51.100.66")
    for _ in range(5):
        browser.visit("/accounts/login/")
        browser.fill({"username": "olivia", "password": "a-wrong-guess"})
        browser.submit("Log in")
    assert "Too many wrong passwords" in browser.text() and "15 minutes" in browser.text()
    see(browser, "16-lock-out", status=429)
    browser.client_address("192.0.2.10")
    browser.visit("/accounts/login/")
    browser.fill({"username": "olivia", "password": PASSWORD})
    browser.submit("Log in")
    assert browser.path == "/"


def test_wrong_passwords_on_the_delete_page_end_in_the_lock_out_page(browser, django_user_model):
    django_user_model.objects.create_user("dana", "dana@example.com", PASSWORD)
    browser.use(PHONE)
    browser.visit("/accounts/login/")
    browser.fill({"username": "dana", "password": PASSWORD})
    browser.submit("Log in")
    for _ in range(5):
        browser.visit("/accounts/delete/")
        browser.fill({"password": "not-my-password"})
        browser.submit("Delete my account and all my data")
    assert "Too many wrong passwords" in browser.text()
    see(browser, "17-delete-locked", status=429)
    assert django_user_model.objects.filter(username="dana").exists()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=lambda v: v.name)
def test_a_page_opened_the_wrong_way_gets_the_sites_error_page(browser, viewport):
    browser.use(viewport)
    browser.visit("/accounts/logout/")  # a button (POST) on every page, not a link
    assert "This page is not opened that way" in browser.text()
    assert browser.find_all("a.button")
    see(browser, "18-method-not-allowed", status=405)
