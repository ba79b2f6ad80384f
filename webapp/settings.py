"""Settings of the site and its workers, all from environment variables.

Every variable is parsed by a small strict helper: a value that cannot be understood stops the
process with a message naming the variable, rather than silently falling back to a default.
docs/architecture.md lists every variable; docker-compose.yml sets them for a deployment.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state of a laptop run: SQLite file, generated secret key

TRUE_WORDS, FALSE_WORDS = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: use one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ImproperlyConfigured(f"{name}={value} must be {bound}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise ImproperlyConfigured(f"{name} is set but lists nothing (comma-separated values)")
    return items


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: use one of {', '.join(choices)}")
    return value


def env_json_object(name: str) -> dict:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, e.g. '{{\"max_model_len\": 8192}}'")
    return value


def env_redis_url(name: str, default: str) -> str:
    url = os.environ.get(name, default)
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise ImproperlyConfigured(f"{name}={url!r}: expected redis://HOST:PORT/DB")
    return url


def local_secret_key() -> str:
    """A key generated once per checkout (var/secret_key), so a laptop run needs no setup and
    no key is ever shared through the repository. Deployments set SECRET_KEY."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def database_config(url: str | None) -> dict:
    if url is None:  # SQLite beside the code; WAL and immediate transactions let Daphne and
        # the worker write the same file without "database is locked" under normal load.
        VAR_DIR.mkdir(exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL;"},
        }
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL={url!r}: {exc}") from None
    if config["ENGINE"] not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        raise ImproperlyConfigured(f"DATABASE_URL={url!r}: use postgres://… or sqlite:///…")
    return config


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or local_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The site is served over HTTPS (by a TLS-terminating proxy in front of Daphne: compose's default,
# docs/architecture.md): secure session and CSRF cookies, HSTS, plain HTTP redirected to HTTPS,
# and the proxy's X-Forwarded-Proto trusted to say a request came over HTTPS. Off for a laptop.
SECURE_COOKIES = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = SECURE_COOKIES
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_COOKIES else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if SECURE_COOKIES else 0,
                              minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_COOKIES)
# Preloading commits the whole registrable domain to HTTPS for months, and anyone may submit a
# domain whose header asks for it: only its owner opts in. Hence security.W021 is silenced.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Every page: scripts, styles, images and fonts from this site only, no inline script or event
# handler (templates/ has none: each script is a static module), no plugins, no framing.
# connect-src also names the page's own ws(s):// origin (webapp/security.py).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self'; font-src 'self'; connect-src 'self'; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
# Sign-in throttling, per username and client address (webapp/security.py): after this many
# failures, that username is refused from that address until LOGIN_LOCKOUT_SECONDS after the last.
LOGIN_FAILURES_ALLOWED = env_int("LOGIN_FAILURES_ALLOWED", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)

INSTALLED_APPS = [
    "daphne",  # its runserver serves HTTP and WebSockets through asgi.py
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "webapp.chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "webapp.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_config(os.environ.get("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files are served by the ASGI application itself (webapp/asgi.py), in production
# too: one Daphne process is the whole web tier of a demo deployment.
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# Redis: Celery broker (no result backend: the database holds every result), channel layer,
# and the small live state of running turns (cancel flags, frame logs, rate counters).
REDIS_URL = env_redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "gptoss")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 times reads out after 5 s by default, exactly channels_redis's blocking
        # read (BZPOPMIN, 5 s): every idle consumer crashed. Let reads outlast it.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                   "prefix": f"{REDIS_KEY_PREFIX}:asgi",
                   # a browser that falls behind loses frames (at-most-once) and catches up
                   # from the turn's frame log; a larger buffer makes that rarer
                   "capacity": 1000, "expiry": 60},
    },
}

CELERY_BROKER_URL = REDIS_URL
# every key Celery writes carries the prefix too, so sites sharing a Redis stay apart
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:"}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "gpu"
CELERY_TASK_ROUTES = {"chat.*": {"queue": "gpu"}}
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# The model a worker loads once: a local checkpoint folder (gpt-oss-20b/120b or any
# transformers GptOss), empty for the embedded gpt-oss-nano. GPTOSS_DEVICE: cpu, cuda, cuda:N,
# empty for CUDA when present.
GPTOSS_MODEL = env_str("GPTOSS_MODEL", "")
GPTOSS_DEVICE = env_str("GPTOSS_DEVICE", "")
# The engine that runs it: `transformers` decodes one turn at a time in the worker's process
# (the embedded default); `vllm` serves up to GPTOSS_MAX_TURNS turns at once, continuously
# batched, and alone takes vLLM's parallelism and engine arguments (docs/architecture.md).
GPTOSS_ENGINE = env_choice("GPTOSS_ENGINE", "transformers", ("transformers", "vllm"))
GPTOSS_MAX_TURNS = env_int("GPTOSS_MAX_TURNS", 16, maximum=1024)
GPTOSS_TENSOR_PARALLEL_SIZE = env_int("GPTOSS_TENSOR_PARALLEL_SIZE", 1)
GPTOSS_PIPELINE_PARALLEL_SIZE = env_int("GPTOSS_PIPELINE_PARALLEL_SIZE", 1)
GPTOSS_DISTRIBUTED_BACKEND = env_choice("GPTOSS_DISTRIBUTED_BACKEND", "", ("", "mp", "ray"))
GPTOSS_VLLM_ARGS = env_json_object("GPTOSS_VLLM_ARGS")
VLLM_OPTION_VARIABLES = {  # engine argument -> the variable that sets it
    "model": "GPTOSS_MODEL", "device": "GPTOSS_DEVICE", "max_num_seqs": "GPTOSS_MAX_TURNS",
    "tensor_parallel_size": "GPTOSS_TENSOR_PARALLEL_SIZE",
    "pipeline_parallel_size": "GPTOSS_PIPELINE_PARALLEL_SIZE",
    "distributed_executor_backend": "GPTOSS_DISTRIBUTED_BACKEND",
}
_clashes = sorted(set(GPTOSS_VLLM_ARGS) & set(VLLM_OPTION_VARIABLES))
if _clashes:
    raise ImproperlyConfigured("GPTOSS_VLLM_ARGS sets " + ", ".join(
        f"{arg!r} (use {VLLM_OPTION_VARIABLES[arg]})" for arg in _clashes))
if GPTOSS_ENGINE == "transformers":
    _vllm_only = [name for name, value in (
        ("GPTOSS_TENSOR_PARALLEL_SIZE", GPTOSS_TENSOR_PARALLEL_SIZE != 1),
        ("GPTOSS_PIPELINE_PARALLEL_SIZE", GPTOSS_PIPELINE_PARALLEL_SIZE != 1),
        ("GPTOSS_DISTRIBUTED_BACKEND", GPTOSS_DISTRIBUTED_BACKEND),
        ("GPTOSS_VLLM_ARGS", GPTOSS_VLLM_ARGS)) if value]
    if _vllm_only:
        raise ImproperlyConfigured(f"{', '.join(_vllm_only)} apply to GPTOSS_ENGINE=vllm only "
                                   "(GPTOSS_ENGINE is transformers)")
# Turns one worker process runs at once, each in a thread of its pool: the transformers engine
# serves one; vLLM batches many. The worker takes as many from the queue as it has slots.
GPTOSS_TURN_SLOTS = GPTOSS_MAX_TURNS if GPTOSS_ENGINE == "vllm" else 1
CELERY_WORKER_POOL = "threads"
CELERY_WORKER_CONCURRENCY = GPTOSS_TURN_SLOTS
# gpt-oss's own python tool: code the model writes, run in a bubblewrap sandbox
# (inference/tools/sandbox.py). Off unless set; where no sandbox can start here it stays off and
# says why (the log, `manage.py check`, and the answer to a turn that asks for it).
GPTOSS_PYTHON_TOOL = env_bool("GPTOSS_PYTHON_TOOL", False)

# Limits of what one browser may ask for.
CHAT_MAX_FRAME_BYTES = env_int("CHAT_MAX_FRAME_BYTES", 64 * 1024, minimum=1024)
CHAT_MAX_TEXT_CHARS = env_int("CHAT_MAX_TEXT_CHARS", 8000)
CHAT_MAX_OUTPUT_TOKENS = env_int("CHAT_MAX_OUTPUT_TOKENS", 4096)
CHAT_TURNS_PER_MINUTE = env_int("CHAT_TURNS_PER_MINUTE", 20)  # in any 60 s (a sliding window)
# A user's turns waiting for a worker: a turn.create beyond them is refused (too_many_turns).
CHAT_MAX_QUEUED_TURNS = env_int("CHAT_MAX_QUEUED_TURNS", 8)
# A user's turns running at once: a worker leaves a further one queued, and other users' turns go
# first, until one of them ends.
CHAT_MAX_RUNNING_TURNS = env_int("CHAT_MAX_RUNNING_TURNS", 4)
# How often an open chat socket checks that its session is still valid (it also checks on every
# frame it receives); a socket whose session ended is closed with 4401.
CHAT_SESSION_CHECK_SECONDS = env_int("CHAT_SESSION_CHECK_SECONDS", 30)
# A running turn whose worker has not been heard from for this long is marked failed (by the
# sweepers below, within a few seconds more), its following sockets told.
CHAT_STALE_TURN_SECONDS = env_int("CHAT_STALE_TURN_SECONDS", 30, minimum=5)
# The sweepers: a thread in each worker process and in each Daphne process fails the running
# turns whose worker's heartbeat expired (one process at a time, under a Redis lock). Off in the
# test process itself (pyproject.toml), where a test sweeps when it means to.
CHAT_SWEEPER = env_bool("CHAT_SWEEPER", True)
# A queued turn whose task message the broker no longer holds (a Redis restarted without
# persistence) is sent again by the sweep once it has waited this long (webapp/chat/sweeper.py).
CHAT_LOST_TURN_SECONDS = env_int("CHAT_LOST_TURN_SECONDS", 2 * CHAT_STALE_TURN_SECONDS, minimum=5)
# A streaming message's text is saved at least this often (deltas, seconds): what a worker that
# is killed mid-turn can lose.
CHAT_STREAM_FLUSH_TOKENS = env_int("CHAT_STREAM_FLUSH_TOKENS", 32, minimum=1)
CHAT_STREAM_FLUSH_SECONDS = 1.0

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_choice(
        "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))},
}
