#!/usr/bin/env python3
"""Drives the postern web console in headless Chromium (Debian `chromium` and
`chromium-driver`, Python `selenium`), as a person would: loads each page, checks
what it shows against the gateway that `tests/console.rs` set up, releases, holds
and deletes queued messages through the page, and saves a screenshot of each page.

Exits 0 when every check passed; otherwise prints what failed and exits 1.
"""

import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 15


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,820", "--force-device-scale-factor=1",
              "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


class Check:
    def __init__(self, driver, shots):
        self.d = driver
        self.shots = shots

    def wait(self, what, cond):
        """Waits until `cond()` is truthy (stale elements mean: try again)."""
        def attempt(_):
            try:
                return cond()
            except StaleElementReferenceException:
                return False
        try:
            return WebDriverWait(self.d, WAIT, poll_frequency=0.1).until(attempt)
        except Exception as e:
            self.shot("failure")
            raise AssertionError(f"{what}: not seen within {WAIT}s; page says:\n"
                                 f"{self.d.find_element(By.TAG_NAME, 'main').text[:3000]}") from e

    def find(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def one(self, what, css):
        return self.wait(what, lambda: (self.find(css) or [None])[0])

    def text(self, css):
        found = self.find(css)
        return found[0].text if found else ""

    def shot(self, name):
        path = os.path.join(self.shots, f"{name}.png")
        self.d.save_screenshot(path)
        print(f"screenshot {path}")

    def go(self, page):
        self.one(f"the {page} tab", f'nav a[data-page="{page}"]').click()
        self.wait(f"the {page} page shown",
                  lambda: self.find(f"#page-{page}")[0].is_displayed())

    def give_token_if_asked(self, token):
        dialog = self.find("#token-dialog")[0]
        self.wait("the token dialog", lambda: dialog.get_attribute("open") is not None)
        box = self.find("#token-input")[0]
        box.send_keys(token)
        self.find("#token-ok")[0].click()
        self.wait("the token dialog closed", lambda: dialog.get_attribute("open") is None)


def message_state(c, qid):
    return c.text(f'#q-messages tr[data-id="{qid}"] td.state')


def queues(c, a):
    c.go("queues")
    c.wait("the held message listed as held", lambda: message_state(c, a.held) == "held")
    c.wait("its destination listed",
           lambda: c.find('#q-destinations tr[data-destination="remote.test"]'))
    summary = c.text("#q-summary")
    assert "2 message(s) queued, 1 held" in summary, summary
    # Release it: select, click, and give the token when the page asks for it.
    c.one("its checkbox", f'#q-messages tr[data-id="{a.held}"] input.sel').click()
    c.wait("one selected", lambda: c.text("#q-selected") == "1 selected")
    c.find("#q-release")[0].click()
    c.give_token_if_asked(a.token)
    c.wait("the message released", lambda: message_state(c, a.held) not in ("held", ""))
    c.wait("the gateway's answer shown", lambda: "release" in c.text("#notice"))
    # Hold its whole destination from the destination's row.
    row = '#q-destinations tr[data-destination="remote.test"]'
    c.one("the destination's hold button", f'{row} button[data-act="hold"]').click()
    c.wait("the message held with its destination", lambda: message_state(c, a.held) == "held")
    c.wait("the destination marked held", lambda: "held" in c.text(row))
    c.shot("queues")
    c.one("the destination's release button", f'{row} button[data-act="release"]').click()
    c.wait("the destination released", lambda: message_state(c, a.held) not in ("held", ""))
    # Delete the other one (the page asks first).
    c.one("the other checkbox", f'#q-messages tr[data-id="{a.doomed}"] input.sel').click()
    c.find("#q-delete")[0].click()
    WebDriverWait(c.d, WAIT).until(lambda d: d.switch_to.alert).accept()
    c.wait("the deleted message gone",
           lambda: not c.find(f'#q-messages tr[data-id="{a.doomed}"]'))
    print("queues: released, held and released a destination, deleted")


def tracking(c, a):
    c.go("tracking")
    c.one("the sender box", "#t-sender").send_keys("jo@localhost")
    c.find("#t-search")[0].click()
    kinds = lambda: {e.text for e in c.find("#t-events td .badge")}
    c.wait("received, delivered and failed events",
           lambda: {"received", "delivered", "failed"} <= kinds())
    links = lambda: [l for l in c.find("#t-events a.trace-link") if a.refused in l.text]
    c.wait("a trace link for the refused message", links)
    links()[0].click()
    c.wait("the trace", lambda: a.refused in c.text("#t-trace h2"))
    c.wait("the failure on the timeline",
           lambda: c.find("#t-trace .hop .event.kind-failed"))
    hops = c.find("#t-trace .hop")
    related = c.find("#t-trace a.related-link")
    assert related, "no related message (the non-delivery report) linked"
    c.shot("tracking")
    # Follow the notice: its own trace, which leads back to the original.
    first_related = related[0].text
    related[0].click()
    c.wait("the notice's trace", lambda: first_related in c.text("#t-trace h2"))
    c.wait("the notice delivered",
           lambda: c.find("#t-trace .event.kind-delivered"))
    c.d.back()
    c.wait("back at the original's trace", lambda: a.refused in c.text("#t-trace h2"))
    print(f"tracking: {len(hops)} hop(s), related {first_related}")


def routing(c, a):
    c.go("routing")
    c.wait("the address spaces",
           lambda: len(c.find("#r-table tbody tr[data-connector]")) == 4)
    out = c.text('#r-connectors tr[data-connector="out"]')
    assert "down" in out, out
    refuse = c.text('#r-connectors tr[data-connector="refuse"]')
    assert "up" in refuse, refuse
    first = c.text("#r-table tbody tr:first-child")
    assert "localhost" in first or "refuse.test" in first, first
    c.one("the route test box", "#r-address").send_keys("someone@refuse.test")
    c.find("#r-test")[0].click()
    c.wait("the route test's answer", lambda: "goes to refuse" in c.text("#r-result"))
    c.wait("the matching address space marked",
           lambda: "refuse.test" in c.text("#r-table tr.match"))
    c.shot("routing")
    print("routing: table, connector states and route test shown")


def status(c, a):
    c.go("status")
    c.wait("the counters", lambda: c.text('[data-fact="accepted"] .value') not in ("", "0"))
    accepted = int(c.text('[data-fact="accepted"] .value'))
    assert accepted >= 4, accepted
    c.wait("the queue depth chart", lambda: c.find("#chart-depth svg circle"))
    c.wait("the outcomes chart", lambda: c.find("#chart-outcomes svg"))
    legend = c.text("#chart-depth .legend")
    assert "messages: 1" in legend, legend
    chips = c.text("#s-connectors")
    assert "out (smtp) down" in chips, chips
    c.shot("status")
    print(f"status: {accepted} accepted, legend {legend!r}")


def main():
    p = argparse.ArgumentParser()
    for name in ("url", "token", "held", "doomed", "refused", "shots"):
        p.add_argument(f"--{name}", required=True)
    a = p.parse_args()
    d = browser()
    try:
        d.get(a.url)
        c = Check(d, a.shots)
        c.wait("the page title", lambda: "gw.test" in d.title)
        for step in (queues, tracking, routing, status):
            step(c, a)
        errors = [e for e in d.get_log("browser") if e.get("level") == "SEVERE"
                  and "favicon" not in e.get("message", "")]
        assert not errors, f"the browser console reported errors: {errors}"
    finally:
        d.quit()
    print("console: every page checked")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
