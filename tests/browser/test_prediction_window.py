"""What a risk card says agrees with the hours it names, in Chromium at a desktop's and a phone's
width: the card's "why" and the numbers behind it give the pressure change and the temperatures
that the page's own hourly table shows for the card's window, and the places' badges name the
same hours."""

import re

import pytest
from selenium.webdriver.common.by import By

from accounts.models import HealthProfile
from tests.browser.chromium import DESKTOP, PHONE
from tests.harness.open_meteo_fake import stormy_weather

PASSWORD = "a-Long-browser-passw0rd"


def text_of(element) -> str:
    return element.get_attribute("textContent").replace("\u00a0", " ").strip()


def hourly_table(browser) -> list[tuple[str, str, float, float]]:
    """(day heading, "HH:MM", temperature, pressure) for each row of the place's hourly table."""
    rows, day = [], ""
    for row in browser.find_all("table.hourly tbody tr"):
        if "day" in row.get_attribute("class").split():
            day = text_of(row)
            continue
        cells = [text_of(cell) for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
        rows.append((day, cells[0], float(cells[1]), float(cells[3])))
    return rows


def window_rows(table, when: str) -> list[tuple[str, str, float, float]]:
    """The table's rows for a card's "Monday 07:00–10:00 CET": its first to its last hour."""
    weekday, start, end = re.fullmatch(r"(\w+) (\d\d:\d\d)–(\d\d:\d\d) \S+", when).groups()
    first = next(index for index, (day, time, *_) in enumerate(table) if day.startswith(weekday) and time == start)
    hours = (int(end[:2]) - int(start[:2])) % 24
    return table[first : first + hours + 1]


def figures(number: float) -> str:
    return f"{number:.1f}".removesuffix(".0")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=lambda v: v.name)
def test_the_why_text_and_the_badges_speak_of_the_windows_own_hours(browser, open_meteo, django_user_model, viewport):
    open_meteo.weather = stormy_weather
    account = django_user_model.objects.create_user(f"win-{viewport.name}", password=PASSWORD)
    HealthProfile.objects.create(user=account)
    browser.use(viewport)
    browser.visit("/accounts/login/")
    browser.fill({"username": account.username, "password": PASSWORD})
    browser.submit("Log in")
    browser.visit("/locations/add/")
    browser.fill({"name": "Berlin", "latitude": "52.52437, 13.41053"})
    browser.submit("Add place")

    card = browser.find("article.card")
    assert text_of(card.find_element(By.CSS_SELECTOR, "h2")).startswith("Migraine risk")
    when = text_of(card.find_element(By.CSS_SELECTOR, ".when"))
    why = text_of(card.find_element(By.CSS_SELECTOR, ".when + p"))
    rows = window_rows(hourly_table(browser), when)
    assert len(rows) == 4  # the default window, 3 to 6 hours ahead, first and last hour included
    pressures = [pressure for *_, pressure in rows]
    temperatures = [temperature for _, _, temperature, _ in rows]
    assert f"Air pressure falls by about {max(pressures) - min(pressures):.0f} hPa" in why
    numbers = {
        text_of(row.find_element(By.CSS_SELECTOR, "td")): text_of(row.find_elements(By.CSS_SELECTOR, "td")[1])
        for row in card.find_elements(By.CSS_SELECTOR, "table.factors tbody tr")
    }
    assert numbers["Pressure change"].startswith(f"{pressures[-1] - pressures[0]:+.1f} hPa over the window")
    assert numbers["Temperature change"] == f"{figures(min(temperatures))} to {figures(max(temperatures))} °C"
    browser.check_page()
    browser.screenshot("window-place")

    browser.click_link("Places")
    badge = next(text_of(b) for b in browser.find_all(".badge") if text_of(b).startswith("Migraine"))
    weekday, hours, _zone = when.split(" ")
    assert badge == f"Migraine: High, {weekday[:3]} {hours}"
    browser.check_page()
    browser.screenshot("window-places")
