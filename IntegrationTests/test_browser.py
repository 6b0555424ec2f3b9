"""The dashboard in a real headless Chromium: it connects, subscribes and shows live updates."""
import os
import shutil
import time

import pytest

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver must be installed in CI (scripts/bootstrap.sh test)")
        pytest.skip("chromium / chromedriver not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_dashboard_shows_live_ticks_in_chromium(hub, browser):
    browser.get(hub.http + "/")
    deadline = time.time() + 20
    seqs = {}
    while time.time() < deadline:
        rows = browser.find_elements(By.CSS_SELECTOR, "#rows tr")
        seqs = {}
        for row in rows:
            cells = row.find_elements(By.TAG_NAME, "td")
            if cells and cells[7].text.isdigit():
                seqs[cells[0].text] = int(cells[7].text)
        if {"AAPL", "MSFT"} <= seqs.keys() and browser.find_element(By.ID, "status").text == "connected":
            break
        time.sleep(0.2)
    assert {"AAPL", "MSFT"} <= seqs.keys(), browser.page_source[:2000]
    first = dict(seqs)
    time.sleep(2)  # live: AAPL ticks several times a second at the test hub's rate
    later = {row.find_elements(By.TAG_NAME, "td")[0].text: int(row.find_elements(By.TAG_NAME, "td")[7].text)
             for row in browser.find_elements(By.CSS_SELECTOR, "#rows tr")}
    assert later["AAPL"] > first["AAPL"]
    assert browser.find_element(By.ID, "gaps").text == "0"
    # Chromium offered permessage-deflate and the hub agreed: every tick above arrived compressed.
    assert browser.find_element(By.ID, "extension").text.startswith("permessage-deflate")
    assert "server_no_context_takeover" in browser.find_element(By.ID, "extension").text
    assert int(browser.find_element(By.ID, "rate").text) > 0
    if os.environ.get("DASHBOARD_SCREENSHOT"):
        browser.save_screenshot(os.environ["DASHBOARD_SCREENSHOT"])
