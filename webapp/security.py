"""What a deployment adds to Django's own protections: a Content-Security-Policy on every page
(no inline scripts, styles or event handlers anywhere in the templates: every script is a
static module), and throttled sign-ins (per username and client address, counted in Redis) on
the site's and the admin's login forms."""

from __future__ import annotations

import hashlib
import logging
import math

import redis
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

log = logging.getLogger(__name__)


def content_security_policy(request) -> str:
    """settings.CONTENT_SECURITY_POLICY, with the page's own WebSocket origin in connect-src
    (older browsers do not count ws:// as 'self')."""
    scheme = "wss" if request.is_secure() else "ws"
    return settings.CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'", f"connect-src 'self' {scheme}://{request.get_host()}")


class ContentSecurityPolicyMiddleware:
    """Sets Content-Security-Policy on every response of the site (pages, admin, API) that has
    none. Static files are served before the middleware (asgi.py) and need none."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(request)
        return response


# ---- sign-in throttling ----------------------------------------------------------------------

def client_address(request) -> str:
    """The address the request came from as Daphne saw it (behind a proxy: the proxy's; see
    docs/architecture.md, "Deployment behind a proxy")."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def failures_key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.casefold()}\0{address}".encode()).hexdigest()[:32]
    return f"{settings.REDIS_KEY_PREFIX}:login:{digest}"


def redis_client() -> redis.Redis:
    from webapp.chat import live

    return live.sync_client()


def locked_for(username: str, address: str) -> int | None:
    """Seconds this username stays locked from this address, or None if it may try."""
    key = failures_key(username, address)
    try:
        failures = int(redis_client().get(key) or 0)
        if failures < settings.LOGIN_FAILURES_ALLOWED:
            return None
        return max(redis_client().ttl(key), 1)
    except redis.RedisError as exc:  # no Redis: sign-ins go on unthrottled rather than stop
        log.warning("sign-in throttle unavailable: %s", exc)
        return None


def record_failure(username: str, address: str) -> None:
    """One more failed sign-in; the lock lasts LOGIN_LOCKOUT_SECONDS from the last failure."""
    key = failures_key(username, address)
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, settings.LOGIN_LOCKOUT_SECONDS)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("sign-in failure not counted: %s", exc)


def forget_failures(username: str, address: str) -> None:
    try:
        redis_client().delete(failures_key(username, address))
    except redis.RedisError:
        pass


def lock_message(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return (f"Too many failed sign-ins for this username from your address. "
            f"Try again in {when}.")


class ThrottledLogin:
    """For an AuthenticationForm: a username that failed LOGIN_FAILURES_ALLOWED times from this
    address is refused without its password being checked, until LOGIN_LOCKOUT_SECONDS after
    its last failure; a successful sign-in clears the count."""

    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else "unknown"
        wait = locked_for(username, address)
        if wait is not None:
            self.throttled = True
            raise ValidationError(lock_message(wait), code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            record_failure(username, address)
            raise
        forget_failures(username, address)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLogin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLogin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    """Django's login view with the throttled form; a locked sign-in is answered 429."""

    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response
