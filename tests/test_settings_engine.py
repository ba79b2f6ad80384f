"""The engine settings refuse what they cannot honour, naming the variable: vLLM-only options
with the transformers engine, engine arguments that another variable owns, JSON that is not an
object; and the worker's pool gets one thread per turn slot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import webapp.settings as s; print(s.GPTOSS_ENGINE, s.GPTOSS_TURN_SLOTS, s.CELERY_WORKER_POOL, s.GPTOSS_VLLM_ARGS)"


def settings_with(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GPTOSS_")}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_transformers_is_the_default_with_one_slot():
    done = settings_with()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:3] == ["transformers", "1", "threads"]


def test_vllm_takes_max_turns_slots_and_engine_arguments():
    done = settings_with(GPTOSS_ENGINE="vllm", GPTOSS_MAX_TURNS="8",
                         GPTOSS_VLLM_ARGS='{"max_model_len": 4096}')
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "vllm 8 threads {'max_model_len': 4096}"


@pytest.mark.parametrize("env, message", [
    ({"GPTOSS_ENGINE": "tensorrt"}, "GPTOSS_ENGINE='tensorrt': use one of transformers, vllm"),
    ({"GPTOSS_TENSOR_PARALLEL_SIZE": "2"}, "GPTOSS_TENSOR_PARALLEL_SIZE apply to GPTOSS_ENGINE=vllm only"),
    ({"GPTOSS_VLLM_ARGS": '{"max_model_len": 1}'}, "GPTOSS_VLLM_ARGS apply to GPTOSS_ENGINE=vllm only"),
    ({"GPTOSS_ENGINE": "vllm", "GPTOSS_VLLM_ARGS": "{max_model_len: 1}"}, "GPTOSS_VLLM_ARGS is not valid JSON"),
    ({"GPTOSS_ENGINE": "vllm", "GPTOSS_VLLM_ARGS": "[1]"}, "GPTOSS_VLLM_ARGS must be a JSON object"),
    ({"GPTOSS_ENGINE": "vllm", "GPTOSS_VLLM_ARGS": '{"tensor_parallel_size": 2}'},
     "GPTOSS_VLLM_ARGS sets 'tensor_parallel_size' (use GPTOSS_TENSOR_PARALLEL_SIZE)"),
    ({"GPTOSS_ENGINE": "vllm", "GPTOSS_DISTRIBUTED_BACKEND": "slurm"},
     "GPTOSS_DISTRIBUTED_BACKEND='slurm': use one of , mp, ray"),
    ({"GPTOSS_ENGINE": "vllm", "GPTOSS_MAX_TURNS": "0"}, "GPTOSS_MAX_TURNS=0 must be between 1 and 1024"),
])
def test_bad_engine_settings_stop_the_process_naming_the_variable(env, message):
    done = settings_with(**env)
    assert done.returncode != 0
    assert message in done.stderr
