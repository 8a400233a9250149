#!/usr/bin/env python3
"""A `BROWSER` for end-to-end tests: opens the login address in headless
Chromium, signs in with KOMODO_TEST_EMAIL / KOMODO_TEST_PASSWORD, allows the
consent page, waits for the redirect to reach the CLI's loopback listener,
and appends the heading of the page it lands on to KOMODO_TEST_BROWSER_LOG
(one line per login)."""

import os
import sys
import tempfile
import traceback

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait


def main(url: str) -> None:
    log = os.environ["KOMODO_TEST_BROWSER_LOG"]
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("KOMODO_TEST_CHROMIUM", "/usr/bin/chromium")
    profile = tempfile.mkdtemp(prefix="komodo-chromium-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=os.environ.get("KOMODO_TEST_CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(url)
        wait.until(ready.presence_of_element_located((By.NAME, "email"))).send_keys(os.environ["KOMODO_TEST_EMAIL"])
        driver.find_element(By.NAME, "password").send_keys(os.environ["KOMODO_TEST_PASSWORD"])
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "button[value=approve]"))).click()
        wait.until(lambda d: d.current_url.startswith("http://127.0.0.1:") and "/callback" in d.current_url)
        heading = wait.until(ready.presence_of_element_located((By.TAG_NAME, "h1"))).text
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{heading}\n")
    except Exception:  # the test reads the log to explain a failure
        with open(log, "w", encoding="utf-8") as out:
            out.write("FAILED\n" + traceback.format_exc() + "\n" + driver.page_source[:2000])
        raise
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv[1])
