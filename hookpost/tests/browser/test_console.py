"""The web console in a real browser.

Headless Chromium (Debian's, through Debian's chromedriver) drives the console
of the real hookpost binary: signing in, creating an endpoint, a test event
delivered to a real receiver on loopback, key rotation, portal links and their
scopes, expired and revoked links, output escaping, and the operator's view.
Pages are opened at http://localhost:PORT: the session cookie is `Secure`, and
Chromium keeps a `Secure` cookie over plain http only for localhost.

Environment:
  HOOKPOST_BIN          the server binary (default: target/debug/hookpost)
  HOOKPOST_SCREENSHOTS  where full-page screenshots go
                        (default: target/console-screenshots)
  HOOKPOST_BROWSER_LOG  the server's stderr (default: target/console-browser-server.log)
"""

import base64
import http.server
import json
import math
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1280, 900)
# Every wait is bounded by one of these (seconds).
PAGE_WAIT = 15
DELIVERY_WAIT = 20
SERVER_START_WAIT = 30


def repo_path(value):
    path = Path(value)
    return path if path.is_absolute() else REPO / path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout, interval=0.2):
    """Calls `check` until it answers something truthy, for at most `timeout`
    seconds; answers that, or fails naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --- the server, its API, and a receiver --------------------------------------


class Server:
    """The real binary on a free loopback port, with a temp data dir."""

    def __init__(self, binary, log_path):
        self.port = free_port()
        self.admin_token = "adm_" + secrets.token_urlsafe(24)
        self.data_dir = tempfile.mkdtemp(prefix="hookpost-browser-")
        self.log_path = log_path
        # The page address Chromium uses; the API is called at 127.0.0.1 with
        # this Host, so the portal links it makes point at localhost too.
        self.base = f"http://localhost:{self.port}"
        self.host = f"localhost:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKPOST_")}
        env["HOOKPOST_ADMIN_TOKEN"] = self.admin_token
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [
                str(binary),
                "serve",
                "--data-dir",
                self.data_dir,
                "--listen",
                f"127.0.0.1:{self.port}",
                "--allow-targets",
                "127.0.0.0/8",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self):
        def healthy():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"hookpost exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                status, body = self.call("GET", "/healthz")
                return status == 200 and body.get("status") == "ok"
            except OSError:
                return False

        wait_until("/healthz", healthy, SERVER_START_WAIT)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, lines=40):
        self.log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def call(self, method, path, token=None, body=None, expect=None):
        """One API request; answers (status, JSON or text). With `expect`, a
        different status fails the test with the answer and the server's log."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method
        )
        request.add_header("Host", self.host)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode(errors="replace")
        if expect is not None and status != expect:
            raise AssertionError(
                f"{method} {path}: {status} (wanted {expect}): {answer}\n{self.log_tail()}"
            )
        return status, answer

    def status_of(self, url):
        """The status a plain GET of `url` (on this server) answers, without
        following redirects."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        parts = urllib.parse.urlsplit(url)
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{parts.path}?{parts.query}"
        )
        request.add_header("Host", self.host)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    # API helpers

    def create_account(self, name):
        _, account = self.call(
            "POST", "/v1/accounts", self.admin_token, {"name": name}, expect=201
        )
        return account

    def create_profile(self, account, profile_id):
        path = "/v1/profiles/" + urllib.parse.quote(profile_id, safe="")
        self.call("PUT", path, account["api_key"], {}, expect=201)

    def create_endpoint(self, account, url, **fields):
        _, endpoint = self.call(
            "POST", "/v1/endpoints", account["api_key"], {"url": url, **fields}, expect=201
        )
        return endpoint

    def publish(self, account, event_type, payload, **fields):
        body = {"event_type": event_type, "payload": payload, **fields}
        _, event = self.call("POST", "/v1/events", account["api_key"], body, expect=202)
        return event

    def portal_link(self, account, **fields):
        body = {"expires_in": "1h", **fields}
        _, link = self.call("POST", "/v1/portal-links", account["api_key"], body, expect=201)
        assert link["url"].startswith(f"{self.base}/console/portal?token="), link
        return link["url"]

    def revoke_portal_links(self, account):
        self.call("POST", "/v1/portal-links/revoke", account["api_key"], expect=200)


class Receiver:
    """A webhook receiver on 127.0.0.1: answers 200 to every POST and keeps
    what it got."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def got(self, path, text):
        """The requests to `path` whose body holds `text`."""
        with self.lock:
            return [r for r in self.requests if r["path"] == path and text.encode() in r["body"]]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the browser ---------------------------------------------------------------


def new_driver():
    """A fresh headless Chromium with its own profile directory. Selenium
    Manager is never asked: the driver's path is given."""
    profile = tempfile.mkdtemp(prefix="hookpost-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_window_size(*WINDOW)
    driver.set_page_load_timeout(PAGE_WAIT)
    driver.profile_dir = profile
    return driver


def quit_driver(driver):
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver.profile_dir, ignore_errors=True)


class Console:
    """One browser on the console, with the steps tests repeat."""

    def __init__(self, driver, server):
        self.driver = driver
        self.server = server

    def open(self, path_or_url):
        url = path_or_url if "://" in path_or_url else self.server.base + path_or_url
        self.driver.get(url)
        return self

    @property
    def path(self):
        return urllib.parse.urlsplit(self.driver.current_url).path

    def one(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        return self.one(css).text.strip()

    def heading(self):
        return self.text("main h1")

    def errors(self):
        return [e.text for e in self.all("p.error")]

    def notices(self):
        return [e.text for e in self.all("p.notice")]

    def submit(self, button):
        """Clicks a submit button and waits for the page it leads to."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        button.click()

        def replaced():
            try:
                old.tag_name
                return False
            except WebDriverException:
                # Stale, or, while Chromium swaps documents, "Node with given
                # id does not belong to the document": the old page is gone.
                pass
            try:
                return self.driver.execute_script("return document.readyState") == "complete"
            except WebDriverException:
                return False  # the new document is not ready to be asked yet

        WebDriverWait(self.driver, PAGE_WAIT).until(lambda _: replaced())
        return self

    def submit_form(self, form_css, **fields):
        """Fills text fields of a form by name and submits it."""
        form = self.one(form_css)
        for name, value in fields.items():
            field = form.find_element(By.NAME, name)
            if field.tag_name == "select":
                Select(field).select_by_value(value)
            else:
                field.clear()
                field.send_keys(value)
        return self.submit(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    def press(self, label):
        """Submits the one-button form whose button reads `label`."""
        buttons = [b for b in self.all("form button[type=submit]") if b.text.strip() == label]
        assert len(buttons) == 1, f"{len(buttons)} buttons `{label}` on {self.path}"
        return self.submit(buttons[0])

    def sign_in(self, credential):
        """Signs in through the sign-in form (whatever comes of it)."""
        self.open("/console/sign-in")
        return self.submit_form("form[action='/console/sign-in']", credential=credential)

    def signed_in(self, credential):
        """Signs in through the form, and must land on the overview."""
        self.sign_in(credential)
        assert self.path == "/console" and not self.errors(), (
            f"signing in through the form ended on {self.path}: {self.errors()}"
            f"\nserver log:\n{self.server.log_tail(10)}"
        )
        return self

    def expect_page(self, title=None):
        """The page shows no error (and has `title` as its heading)."""
        assert not self.errors(), (
            f"{self.path}: {self.errors()}\nserver log:\n{self.server.log_tail()}"
        )
        if title is not None:
            assert self.heading() == title, f"{self.path}: heading {self.heading()!r}"
        return self

    def endpoint_ids(self):
        """The endpoints the page's endpoint tables link to."""
        links = self.all("table.endpoints a[href^='/console/endpoints/']")
        return {a.get_attribute("href").rsplit("/", 1)[1] for a in links}

    def event_rows(self):
        """The rows of the page's event table: id, type, status."""
        rows = []
        for tr in self.all("table.events tbody tr"):
            cells = tr.find_elements(By.TAG_NAME, "td")
            rows.append(
                {
                    "id": cells[0].text.strip(),
                    "type": cells[1].text.strip(),
                    "status": cells[3].text.strip(),
                }
            )
        return rows

    def screenshot(self, name):
        """A full-page PNG of what the browser shows, into HOOKPOST_SCREENSHOTS."""
        directory = repo_path(os.environ.get("HOOKPOST_SCREENSHOTS", "target/console-screenshots"))
        directory.mkdir(parents=True, exist_ok=True)
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": max(WINDOW[0], math.ceil(size["width"])),
            "height": max(WINDOW[1], math.ceil(size["height"])),
            "scale": 1,
        }
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
        )
        (directory / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


# --- fixtures -------------------------------------------------------------------


@pytest.fixture(scope="session")
def server():
    binary = repo_path(os.environ.get("HOOKPOST_BIN", "target/debug/hookpost"))
    assert binary.is_file(), f"no hookpost binary at {binary} (set HOOKPOST_BIN)"
    log = repo_path(os.environ.get("HOOKPOST_BROWSER_LOG", "target/console-browser-server.log"))
    server = Server(binary, log)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def shared_driver():
    driver = new_driver()
    yield driver
    quit_driver(driver)


@pytest.fixture
def console(shared_driver, server):
    """The shared browser, signed out: its cookies cleared."""
    shared_driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    return Console(shared_driver, server)


@pytest.fixture
def fresh_console(server):
    """A browser session of its own, closed after the test; call it for each."""
    drivers = []

    def make():
        drivers.append(new_driver())
        return Console(drivers[-1], server)

    yield make
    for driver in drivers:
        quit_driver(driver)


PROFILE = "+13125550100"


@pytest.fixture(scope="session")
def alpha(server, receiver):
    """Account A: an endpoint for the account's events and one for a profile."""
    account = server.create_account("Alpha Fax Co")
    server.create_profile(account, PROFILE)
    account["main"] = server.create_endpoint(
        account, receiver.url("/alpha"), description="Alpha main"
    )["id"]
    account["profiled"] = server.create_endpoint(
        account, receiver.url("/alpha-profile"), profile_id=PROFILE, description="Alpha profile"
    )["id"]
    return account


@pytest.fixture(scope="session")
def bravo(server, receiver):
    """Account B, whose name holds markup, with an endpoint of its own."""
    account = server.create_account("Bravo <i>Freight</i> & Co")
    account["main"] = server.create_endpoint(
        account, receiver.url("/bravo"), description="Bravo main"
    )["id"]
    return account


# --- the flows --------------------------------------------------------------------


def test_sign_in_with_an_account_key(console, alpha):
    console.open("/console")
    assert console.path == "/console/sign-in"

    console.sign_in("hp_not-a-key-of-anyone")
    assert console.path == "/console/sign-in"
    assert any("neither an API key" in e for e in console.errors()), console.errors()
    assert console.driver.get_cookie("hookpost_console") is None
    console.open("/console")
    assert console.path == "/console/sign-in", "a wrong key must not sign in"

    console.signed_in(alpha["api_key"])
    console.expect_page("Alpha Fax Co")
    assert "Alpha Fax Co" in console.text("nav .who")
    cookie = console.driver.get_cookie("hookpost_console")
    assert cookie is not None, "Chromium did not keep the Secure cookie on http://localhost"
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax", cookie
    assert cookie["path"] == "/console", cookie
    assert {alpha["main"], alpha["profiled"]} <= console.endpoint_ids()

    console.press("Sign out")
    assert console.path == "/console/sign-in"
    console.open("/console")
    assert console.path == "/console/sign-in"


def test_create_an_endpoint_through_the_form(console, alpha, receiver):
    console.signed_in(alpha["api_key"])
    console.open("/console/endpoints").expect_page("Endpoints")
    url = receiver.url("/hook")
    console.submit_form(
        "#create-endpoint", url=url, event_types="fax.*", description="Made in the browser"
    )
    console.expect_page()
    assert re.fullmatch(r"/console/endpoints/[^/]+", console.path), console.path
    endpoint_id = console.path.rsplit("/", 1)[1]
    assert any(n.startswith("Created") for n in console.notices()), console.notices()
    assert console.text("#endpoint-url") == url
    assert console.text("#endpoint-types") == "fax.*"
    assert console.text("#endpoint-state") == "enabled"

    console.open("/console/endpoints").expect_page("Endpoints")
    assert endpoint_id in console.endpoint_ids()
    row = console.one(f"table.endpoints a[href='/console/endpoints/{endpoint_id}']")
    assert "Made in the browser" in row.find_element(By.XPATH, "./ancestor::tr").text
    console.screenshot("endpoints")


def test_a_test_event_is_delivered_and_shown(console, alpha, receiver, server):
    endpoint = alpha["main"]
    console.signed_in(alpha["api_key"])
    console.open(f"/console/endpoints/{endpoint}").expect_page(f"Endpoint {endpoint}")
    before = {r["id"] for r in console.event_rows()}
    console.submit_form("#test-endpoint")
    console.expect_page()
    assert any("test event was sent" in n for n in console.notices()), console.notices()

    def delivered_row():
        console.open(f"/console/endpoints/{endpoint}")
        rows = [r for r in console.event_rows() if r["id"] not in before]
        return next((r for r in rows if r["status"] == "delivered"), None)

    row = wait_until("the test event delivered on the endpoint page", delivered_row, DELIVERY_WAIT)
    assert row["type"] == "hookpost.test"
    event_id = row["id"]
    got = wait_until("the receiver's request", lambda: receiver.got("/alpha", event_id), 5)
    assert json.loads(got[0]["body"])["data"]["id"] == event_id, got[0]["body"]
    summary = console.text(".requests-summary")
    assert int(re.search(r"(\d+) succeeded", summary).group(1)) >= 1, summary
    assert "mean" in console.text(".latency-summary")
    console.screenshot("endpoint")

    console.open(f"/console/events/{event_id}").expect_page(f"Event {event_id}")
    assert console.text("#event-status") == "delivered"
    assert len(console.all("#deliveries tbody tr")) == 1
    attempts = console.all("#attempts tr.attempt")
    assert attempts and "HTTP 200" in attempts[0].text, [a.text for a in attempts]
    assert receiver.url("/alpha") in attempts[0].text
    console.screenshot("event")

    console.press("Send again")
    console.expect_page(f"Event {event_id}")
    assert console.notices(), "Send again answered no notice"


def test_rotate_the_signing_keys(console, server):
    account = server.create_account("Keys Rotating Co")
    console.signed_in(account["api_key"])
    console.open("/console/keys").expect_page("Signing keys")
    labels = [dt.text for dt in console.all("dl.facts dt")]
    assert "Current" in labels and "Previous" not in labels, labels

    console.submit_form("#rotate-keys", keep_old_for="1h")
    console.expect_page("Signing keys")
    assert any(n.startswith("New signing keys") for n in console.notices()), console.notices()
    labels = [dt.text for dt in console.all("dl.facts dt")]
    assert "Previous" in labels and "Signs until" in labels, labels
    keys = [c.text for c in console.all("code.public-key")]
    assert len(keys) == 2 and keys[0] != keys[1], keys
    console.screenshot("keys")

    console.press("Show the secrets")
    console.expect_page("Signing keys")
    secrets_shown = [c.text for c in console.all("#secrets code.secret")]
    webhook_secrets = [s for s in secrets_shown if s.startswith("whsec_")]
    assert len(webhook_secrets) == 2, secrets_shown  # the new one and the previous one
    assert "(previous)" in console.text("#secrets")


def test_a_portal_link_shows_only_its_account(server, alpha, bravo, fresh_console):
    portal = fresh_console().open(server.portal_link(alpha))
    assert portal.path == "/console"
    portal.expect_page("Alpha Fax Co")
    portal.open("/console/endpoints").expect_page("Endpoints")
    shown = portal.endpoint_ids()
    assert {alpha["main"], alpha["profiled"]} <= shown
    assert bravo["main"] not in shown
    assert bravo["main"] not in portal.driver.page_source
    assert portal.all("#create-endpoint")

    portal.open(f"/console/endpoints/{bravo['main']}")
    assert any(bravo["main"] in e for e in portal.errors()), portal.errors()
    assert "Bravo main" not in portal.driver.page_source


def test_a_profile_link_shows_only_its_profile(server, alpha, fresh_console):
    portal = fresh_console().open(server.portal_link(alpha, profile_id=PROFILE))
    portal.expect_page("Alpha Fax Co")
    assert f"profile {PROFILE}" in portal.text("nav .who")
    portal.open("/console/endpoints").expect_page("Endpoints")
    assert portal.endpoint_ids() == {alpha["profiled"]}
    form = portal.one("#create-endpoint")
    assert not form.find_elements(By.NAME, "profile_id")
    portal.screenshot("portal")

    portal.open(f"/console/endpoints/{alpha['main']}")
    assert portal.errors(), "another profile's endpoint was shown"
    portal.open("/console/keys").expect_page("Signing keys")
    assert not portal.all("#rotate-keys") and "Show the secrets" not in portal.driver.page_source


def test_a_read_only_link_changes_nothing(server, alpha, receiver, fresh_console):
    portal = fresh_console().open(server.portal_link(alpha, read_only=True))
    portal.expect_page("Alpha Fax Co")
    assert "read-only" in portal.text("nav .who")
    portal.open("/console/endpoints").expect_page("Endpoints")
    assert alpha["main"] in portal.endpoint_ids()
    assert not portal.all("#create-endpoint")
    portal.open(f"/console/endpoints/{alpha['main']}").expect_page()
    assert portal.text("#endpoint-url") == receiver.url("/alpha")
    assert not portal.all("#test-endpoint, #replay-endpoint, #edit-endpoint")


def test_the_plots_draw_their_axes(console, server, receiver):
    account = server.create_account("Echo Plotting Co")
    endpoint = server.create_endpoint(account, receiver.url("/echo"))["id"]
    event = server.publish(account, "fax.delivered", {"fax_id": "f-200"})
    wait_until("the delivery", lambda: receiver.got("/echo", event["id"]), DELIVERY_WAIT)
    # Opened from a portal link: how the console is entered is not what this checks.
    console.open(server.portal_link(account)).expect_page("Echo Plotting Co")

    def plotted():
        console.open(f"/console/endpoints/{endpoint}")
        return "1 succeeded" in console.text(".requests-summary")

    wait_until("the attempt in the endpoint's plot", plotted, PAGE_WAIT)
    assert "mean" in console.text(".latency-summary")
    figures = console.all("figure.plot")
    assert len(figures) == 2
    for figure in figures:
        caption = figure.find_element(By.TAG_NAME, "figcaption").text
        # The scale, the first and the last minute, drawn as the svg's own text.
        labels = [t.text for t in figure.find_elements(By.CSS_SELECTOR, "svg > text.axis")]
        assert len(labels) == 3, (
            f"the plot `{caption}` draws {labels} as its axis labels: "
            + figure.find_element(By.TAG_NAME, "svg").get_attribute("innerHTML")[-400:]
        )


def test_expired_and_revoked_links_are_refused(server, fresh_console):
    account = server.create_account("Charlie Revoking Co")
    short = server.portal_link(account, expires_in="1s")
    time.sleep(2)
    portal = fresh_console().open(short)
    assert portal.heading() == "Forbidden"
    assert any("expired" in e for e in portal.errors()), portal.errors()
    assert server.status_of(short) == 403

    valid = server.portal_link(account)
    portal = fresh_console().open(valid)
    portal.expect_page("Charlie Revoking Co")
    server.revoke_portal_links(account)
    portal.open(valid)
    assert portal.heading() == "Forbidden"
    assert portal.errors(), "a revoked link was let in"
    assert server.status_of(valid) == 403
    # The session that link opened is over too.
    portal.open("/console")
    assert portal.path == "/console/sign-in"
    # A link made after the revocation works.
    portal.open(server.portal_link(account)).expect_page("Charlie Revoking Co")


def test_payload_markup_is_shown_as_text(console, server, alpha):
    script = "<script>window.__xss=1</script>"
    image = "<img src=x onerror=window.__xss=2>"
    event = server.publish(alpha, "note.added", {"note": script, "html": image})
    console.signed_in(alpha["api_key"])
    console.open(f"/console/events/{event['id']}").expect_page(f"Event {event['id']}")
    payload = console.text("pre#payload")
    assert script in payload and image in payload, payload
    assert json.loads(payload) == {"note": script, "html": image}
    assert console.driver.execute_script("return window.__xss") is None
    assert console.driver.find_elements(By.TAG_NAME, "script") == []
    assert console.driver.find_elements(By.TAG_NAME, "img") == []


def test_the_event_log_settings_and_overview(console, server, alpha, receiver):
    delivered = server.publish(alpha, "fax.delivered", {"fax_id": "f-100", "pages": 3})
    queued = server.publish(alpha, "fax.queued", {"fax_id": "f-101"})
    console.signed_in(alpha["api_key"])

    def listed():
        console.open("/console/events")
        ids = {r["id"] for r in console.event_rows()}
        return {delivered["id"], queued["id"]} <= ids

    wait_until("both events in the event log", listed, PAGE_WAIT)
    console.expect_page("Events")
    assert console.all("#event-filters")
    console.submit_form("#event-filters", event_type="fax.delivered")
    assert "event_type=fax.delivered" in console.driver.current_url
    rows = console.event_rows()
    assert delivered["id"] in {r["id"] for r in rows}
    assert {r["type"] for r in rows} == {"fax.delivered"}, rows
    console.open("/console/events")
    console.screenshot("events")

    console.open("/console/settings").expect_page("Settings")
    settings = json.loads(console.one("textarea#settings").get_attribute("value"))
    assert isinstance(settings, dict), settings
    assert PROFILE in console.text("#profiles")
    console.screenshot("settings")

    console.open("/console").expect_page("Alpha Fax Co")
    assert {alpha["main"], alpha["profiled"]} <= console.endpoint_ids()
    console.screenshot("overview")


def test_load_an_event_type_catalog(console, server):
    account = server.create_account("Delta Catalog Co")
    console.signed_in(account["api_key"])
    console.open("/console/event-types").expect_page("Event types")
    assert not console.all("#event-types")
    console.submit_form("#load-catalog", catalog="telnyx")
    console.expect_page("Event types")
    assert any("registered" in n for n in console.notices()), console.notices()
    assert console.all("#event-types tbody tr")


def test_the_operator_view(console, server, alpha, bravo):
    console.signed_in(server.admin_token)
    console.expect_page("Operator")
    assert console.text("nav .who") == "operator"
    for figure in ("#queue-due", "#queue-scheduled"):
        assert re.fullmatch(r"\d+", console.text(figure)), console.text(figure)
    assert re.fullmatch(r"\d+ s", console.text("#oldest-due")), console.text("#oldest-due")
    accounts = {
        tr.find_elements(By.TAG_NAME, "td")[0].text: tr.find_elements(By.TAG_NAME, "td")[1].text
        for tr in console.all("table#accounts tbody tr")
    }
    assert accounts.get(alpha["id"]) == "Alpha Fax Co", accounts
    assert accounts.get(bravo["id"]) == "Bravo <i>Freight</i> & Co", accounts
    assert not console.all("table#accounts i")
    assert console.all("figcaption.requests-summary")
    console.screenshot("operator-overview")

    console.open("/console/endpoints")
    assert any("belongs to an account" in e for e in console.errors()), console.errors()
