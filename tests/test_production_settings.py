"""Production settings: `check --deploy` is clean with docker-compose.yml's web environment (one
justified silenced check); SECURE_COOKIES=1 gives secure cookies, HSTS and the HTTPS redirect;
every page has a Content-Security-Policy without inline scripts, and no template has an inline
script, style or event handler; sign-ins are throttled per username and address."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from tests.compose_file import environment

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def compose_web_env(**over) -> dict[str, str]:
    """The web service's environment as compose gives it, with a real secret key (compose
    demands one; its stand-in in test_compose_contract is too short for check --deploy)."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
            **environment("web"), "SECRET_KEY": secrets.token_urlsafe(50), **over}


def manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_the_compose_environment():
    done = manage(compose_web_env(), "check", "--deploy", "--fail-level", "DEBUG")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "System check identified no issues (1 silenced).", done.stdout


def test_the_one_silenced_check_is_hsts_preload_and_it_is_justified():
    from django.conf import settings

    assert settings.SILENCED_SYSTEM_CHECKS == ["security.W021"]
    source = (ROOT / "webapp" / "settings.py").read_text()
    assert re.search(r"Preloading commits.*\n.*Hence security\.W021 is silenced", source)
    assert "security.W021" in (ROOT / "docs" / "architecture.md").read_text()


def test_check_deploy_warns_when_compose_is_told_to_serve_plain_http():
    done = manage(compose_web_env(SECURE_COOKIES="0"), "check", "--deploy")
    warned = set(re.findall(r"security\.W\d+", done.stdout + done.stderr))
    assert warned == {"security.W004", "security.W008", "security.W012", "security.W016"}


def settings_under(**env):
    probe = ("import json, webapp.settings as s; print(json.dumps([s.SESSION_COOKIE_SECURE, "
             "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
             "s.SECURE_HSTS_PRELOAD, s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER]))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_secure_cookies_turn_on_hsts_and_the_https_redirect():
    assert settings_under(SECURE_COOKIES="1") == [
        True, True, 31536000, True, False, True, ["HTTP_X_FORWARDED_PROTO", "https"]]
    assert settings_under() == [False, False, 0, False, False, False, None]
    assert settings_under(SECURE_COOKIES="1", SECURE_HSTS_SECONDS="60")[2] == 60


def test_an_https_response_carries_hsts_and_secure_cookies(settings, ada):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()
    plain = client.get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    page = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert page.cookies["csrftoken"]["secure"]
    signed_in = client.post("/accounts/login/", {"username": "ada", "password": "pw-ada-1234"},
                            HTTP_X_FORWARDED_PROTO="https")
    assert signed_in.status_code == 302 and signed_in.cookies["sessionid"]["secure"]


# ---- Content-Security-Policy ----

class Scripts(HTMLParser):
    """Inline scripts and event handler attributes in a page."""

    def __init__(self):
        super().__init__()
        self.inline, self.handlers, self.styles, self.external = [], [], [], []
        self._in_script = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.handlers += [f"{tag} {name}" for name in attrs if name.startswith("on")]
        self.handlers += [f"{tag} {name}" for name, value in attrs.items()
                          if value and value.strip().lower().startswith("javascript:")]
        if "style" in attrs:
            self.styles.append(tag)
        if tag == "style":
            self.styles.append("<style>")
        if tag == "script":
            self._in_script = attrs

    def handle_data(self, data):
        if self._in_script is not None and data.strip():
            if self._in_script.get("type") != "application/json":  # data, never executed
                self.inline.append(data.strip()[:60])

    def handle_endtag(self, tag):
        if tag == "script":
            if self._in_script is not None and self._in_script.get("src"):
                self.external.append(self._in_script["src"])
            self._in_script = None


def scan(html: str) -> Scripts:
    parser = Scripts()
    parser.feed(html)
    return parser


@pytest.fixture
def signed_in(ada):
    from django.contrib.auth import get_user_model

    ada.is_staff = ada.is_superuser = True
    ada.save()
    client = Client()
    client.force_login(get_user_model().objects.get(pk=ada.pk))
    return client


PAGES = ["/", "/tokenizer/", "/admin/", "/admin/chat/turn/", "/admin/auth/user/add/",
         "/accounts/password_change/"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_strict_csp_and_no_inline_script(signed_in, path):
    response = signed_in.get(path)
    assert response.status_code == 200, path
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert directives["style-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["connect-src"] == "'self' ws://testserver"
    assert "unsafe" not in policy
    found = scan(response.content.decode())
    assert (found.inline, found.handlers, found.styles) == ([], [], []), path


def test_the_login_page_has_the_csp_too():
    response = Client().get("/accounts/login/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    found = scan(response.content.decode())
    assert (found.inline, found.handlers, found.styles) == ([], [], [])


def test_no_template_has_an_inline_script_style_or_handler():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for match in re.finditer(r"<script\b([^>]*)>", text):
            attrs = match.group(1)
            assert "src=" in attrs, f"{template}: inline <script{attrs}>"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template}: an event handler attribute"
        assert not re.search(r"\sstyle\s*=|<style\b", text), f"{template}: an inline style"
        assert "javascript:" not in text, template


# ---- sign-in throttling ----

@pytest.fixture
def throttle(settings, live_state):
    settings.LOGIN_FAILURES_ALLOWED = 3
    settings.LOGIN_LOCKOUT_SECONDS = 600
    return settings


def sign_in(username, password, address="10.0.0.1", path="/accounts/login/"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password,
                                                   "next": "/"})


def test_failed_sign_ins_lock_that_username_from_that_address(ada, make_user, throttle):
    for _ in range(3):
        failed = sign_in("ada", "wrong")
        assert failed.status_code == 200 and b"Please enter a correct username" in failed.content
    locked = sign_in("ada", "pw-ada-1234")  # even the right password
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this username from your address. Try again in 10 minutes." \
        in locked.content.decode()
    assert "_auth_user_id" not in locked.wsgi_request.session

    assert sign_in("ADA", "pw-ada-1234").status_code == 429, "usernames are compared casefolded"
    assert sign_in("ada", "pw-ada-1234", address="10.0.0.2").status_code == 302, "another address"
    make_user("bob")
    assert sign_in("bob", "pw-bob-1234").status_code == 302, "another username"


def test_a_successful_sign_in_clears_the_count(ada, throttle):
    for _ in range(2):
        sign_in("ada", "wrong")
    assert sign_in("ada", "pw-ada-1234").status_code == 302
    for _ in range(2):
        assert sign_in("ada", "wrong").status_code == 200
    assert sign_in("ada", "pw-ada-1234").status_code == 302, "two failures since: not locked"


def test_the_lock_ends_after_the_lockout(ada, throttle):
    throttle.LOGIN_LOCKOUT_SECONDS = 1
    for _ in range(3):
        sign_in("ada", "wrong")
    assert sign_in("ada", "pw-ada-1234").status_code == 429
    assert "Try again in 1 minute." in sign_in("ada", "pw-ada-1234").content.decode()
    time.sleep(1.2)
    assert sign_in("ada", "pw-ada-1234").status_code == 302


def test_the_admin_login_is_throttled_too(ada, throttle):
    ada.is_staff = True
    ada.save()
    for _ in range(3):
        sign_in("ada", "wrong", path="/admin/login/")
    locked = sign_in("ada", "pw-ada-1234", path="/admin/login/")
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in locked.wsgi_request.session
