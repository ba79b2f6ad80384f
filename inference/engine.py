"""The transformers engine: a gpt-oss checkpoint decoded in this process with a KV cache.

One `Engine` holds one model on one device. `generate` streams the token ids of one prompt:
a single forward pass over the prompt (prefill) fills the cache, then each step feeds only
the newest token. It serves one generation at a time; the vLLM backend
(inference/engines/vllm.py) batches many behind the same interface (inference/engines/),
and `load(kind, ...)`, re-exported here, picks one.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import os
import time
from pathlib import Path

import torch

from .engines import Generation, load  # noqa: F401  (load: inference.engine.load picks a backend)
from .harmony import STOP_TOKENS

NANO_MARKER = "nano.json"  # a compact checkpoint of the embedded model (inference/nano/)


class EngineError(RuntimeError):
    """The model cannot be loaded or asked to generate; the message says why and what to do."""


def default_device() -> str:
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def normalise_device(device: str | None) -> str:
    dev = torch.device(device or default_device())
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise EngineError(f"device {device!r} asked for, but torch sees no CUDA GPU")
        return f"cuda:{dev.index if dev.index is not None else torch.cuda.current_device()}"
    if dev.type != "cpu":
        raise EngineError(f"unsupported device {device!r}: use cpu or cuda[:N]")
    return "cpu"


def model_folder(path: str | os.PathLike | None) -> Path:
    """`path`, else $GPTOSS_MODEL, else the embedded nano checkpoint; it must exist."""
    path = path or os.environ.get("GPTOSS_MODEL") or None
    if path is None:
        try:
            from .nano.checkpoint import DEFAULT_PATH
        except ImportError as exc:
            raise EngineError(
                f"the embedded nano model is not available ({exc}); pass a local gpt-oss "
                "checkpoint folder with --model or GPTOSS_MODEL"
            ) from exc
        path = DEFAULT_PATH
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise EngineError(
            f"model folder {folder} does not exist; set GPTOSS_MODEL (or --model) to a local "
            "gpt-oss checkpoint folder (weights cannot be downloaded here)"
        )
    return folder


def is_nano(folder: Path) -> bool:
    return (folder / NANO_MARKER).is_file()


def checkpoint_name(folder: Path) -> str:
    """The model's name for metrics: nano.json's name, else the folder's."""
    if is_nano(folder):
        meta = json.loads((folder / NANO_MARKER).read_text())
        return meta.get("name", "gpt-oss-nano") if isinstance(meta, dict) else "gpt-oss-nano"
    return folder.resolve().name


def check_request(prompt_ids, context_length: int, max_new_tokens, temperature, top_p) -> tuple[list[int], int]:
    """The prompt as a list of ints and the number of tokens that may be generated after it;
    `EngineError` for arguments no engine can serve."""
    prompt_ids = [int(t) for t in prompt_ids]
    if not prompt_ids:
        raise EngineError("the prompt is empty")
    if len(prompt_ids) >= context_length:
        raise EngineError(f"the prompt has {len(prompt_ids)} tokens; the model's context is {context_length}")
    if max_new_tokens < 0:
        raise EngineError("max_new_tokens must be at least 0")
    if temperature < 0:
        raise EngineError("temperature must be 0 (greedy) or more")
    if not 0 < top_p <= 1:
        raise EngineError("top_p must be in (0, 1]")
    return prompt_ids, min(max_new_tokens, context_length - len(prompt_ids))


MXFP4_KERNEL = "kernels-community/gpt-oss-triton-kernels"  # what transformers' MXFP4 experts run


def load_transformers_checkpoint(folder: Path, device: str):
    """A standard transformers folder (config.json + safetensors), e.g. gpt-oss-20b/120b, in
    bfloat16. Their experts are MXFP4 (`mxfp4_kernels_problem`): on a GPU that can, they stay
    MXFP4 and run on transformers' MXFP4 kernels; elsewhere (always on CPU) transformers
    dequantizes them to bfloat16 as it loads. With `accelerate` the weights go straight to
    the GPU (`device_map`); without it they are loaded on the CPU and moved. A folder whose
    bfloat16 weights cannot fit where they are loaded is refused before loading starts."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise EngineError(f"{folder} holds no config.json: not a transformers checkpoint folder")
    from transformers import GptOssForCausalLM, Mxfp4Config

    config = json.loads(config_file.read_text())
    if config.get("model_type") != "gpt_oss":
        raise EngineError(f"{folder} holds a {config.get('model_type')!r} model, not gpt_oss")
    dispatch = device.startswith("cuda") and importlib.util.find_spec("accelerate") is not None
    # bfloat16 also on CPU: it halves the memory, and with the full 201k-row output head
    # (memory-bound) it decoded as fast as or faster than float32 on this project's CPU.
    options, kernels_problem = {"dtype": torch.bfloat16}, None
    quantization = config.get("quantization_config")
    method = quantization.get("quant_method") if isinstance(quantization, dict) else None
    if method == "mxfp4":
        kernels_problem = mxfp4_kernels_problem(device)
        if kernels_problem is None:
            options = {"dtype": "auto"}  # transformers swaps the experts for its MXFP4 layers
        else:
            options["quantization_config"] = Mxfp4Config(dequantize=True)
    elif quantization is not None:
        options = {"dtype": "auto"}  # transformers knows the method, or says what it lacks
    if options["dtype"] is torch.bfloat16:
        for place in [device] if dispatch else dict.fromkeys(["cpu", device]):
            check_fits(folder, place, kernels_problem)
    try:
        model, report = GptOssForCausalLM.from_pretrained(
            folder, device_map=device if dispatch else None, local_files_only=True,
            output_loading_info=True, **options)
    except ImportError as exc:  # a package the quantization method needs
        raise EngineError(f"{folder} cannot be loaded: {exc}") from exc
    if report["missing_keys"]:  # transformers would run them as random weights
        missing, unused = sorted(report["missing_keys"]), sorted(report["unexpected_keys"])
        raise EngineError(
            f"{folder} lacks {len(missing)} weights the model needs (e.g. {missing[0]})"
            + (f"; it holds {len(unused)} that the model does not use (e.g. {unused[0]})" if unused else ""))
    return model if dispatch else model.to(device)


def mxfp4_kernels_problem(device: str) -> str | None:
    """Why transformers' MXFP4 kernels cannot run the experts on `device` (None when they
    can), by transformers' own conditions: a GPU of compute capability 7.5 or more, the
    `accelerate`, `kernels` and `triton` packages, and the kernel itself, which `kernels`
    fetches from the Hugging Face Hub once (then from its cache, also with HF_HUB_OFFLINE=1).
    On CPU this engine always dequantizes: MXFP4 there needs triton's CPU backend."""
    if not device.startswith("cuda"):
        return "MXFP4 kernels are used on a GPU only"
    from transformers.utils import is_accelerate_available, is_kernels_available, is_triton_available

    capability = torch.cuda.get_device_capability(device)
    if capability < (7, 5):
        return f"{device} has compute capability {capability[0]}.{capability[1]}, below the kernels' 7.5"
    needs = {"accelerate": is_accelerate_available(), "kernels": is_kernels_available(),
             "triton>=3.4": is_triton_available("3.4.0")}
    missing = [name for name, present in needs.items() if not present]
    if missing:
        return f"the MXFP4 kernels need {' and '.join(missing)} (pip install)"
    try:
        from transformers.integrations.hub_kernels import get_kernel

        get_kernel(MXFP4_KERNEL, version=1)
    except Exception as exc:  # neither cached nor reachable, or not built for this GPU
        return f"the MXFP4 kernel {MXFP4_KERNEL} could not be loaded ({exc})"
    return None


def bfloat16_bytes(folder: Path) -> int:
    """The bytes the folder's weights take in bfloat16, MXFP4 experts dequantized (a block
    byte holds two values; the scales go): read from the safetensors headers, nothing loaded."""
    from safetensors import safe_open

    total = 0
    for file in folder.glob("*.safetensors"):
        with safe_open(file, "pt") as weights:
            for name in weights.keys():
                count = math.prod(weights.get_slice(name).get_shape())
                if name.endswith("_blocks"):
                    total += 2 * count * 2
                elif not name.endswith("_scales"):
                    total += count * 2
    return total


def memory_bytes(device: str) -> int | None:
    """The memory free on a GPU, or all of the CPU's (the page cache would give way); None
    where it cannot be told."""
    if device.startswith("cuda"):
        return torch.cuda.mem_get_info(torch.device(device))[0]
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def check_fits(folder: Path, device: str, kernels_problem: str | None = None) -> None:
    """`EngineError` when the bfloat16 weights cannot fit in `device`'s memory: loading would
    end in an out-of-memory error minutes later, or in the OOM killer ending the worker."""
    need, have = bfloat16_bytes(folder), memory_bytes(device)
    if have is None or need <= have:
        return
    place = f"{device} has {have / 1e9:.1f} GB {'free' if device.startswith('cuda') else 'of memory'}"
    dequantized = f" dequantized ({kernels_problem})" if kernels_problem else ""
    kernels = ", a GPU that runs the MXFP4 kernels," if kernels_problem else ""
    raise EngineError(f"{folder.name} takes {need / 1e9:.1f} GB in bfloat16{dequantized}; {place}. "
                      f"Use a device with room for it{kernels} or the vLLM engine")


def load_nano_checkpoint(folder: Path, device: str):
    """The embedded model, expanded to the full vocabulary by its own loader. It is tiny, so it
    runs in float32 everywhere: exactly the precision it was trained in."""
    from .nano.checkpoint import load_model

    return load_model(folder).to(device=device, dtype=torch.float32)


def expert_parameter_count(config) -> int:
    """Parameters of all experts, from the config: exact whether the weights are held as
    floats or as MXFP4 blocks and scales."""
    hidden, inner = config.hidden_size, config.intermediate_size
    per_expert = hidden * 2 * inner + 2 * inner + inner * hidden + hidden  # gate_up, down, biases
    return config.num_hidden_layers * config.num_local_experts * per_expert


def active_parameter_count(model) -> int:
    """Parameters used per token: everything outside the experts, plus top-k / num-experts of
    the experts. The input embedding is a lookup, not compute, so it is left out; the output
    projection is a matmul for every token, tied or not. For gpt-oss-20b this gives the
    published 3.6B."""
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    dense = sum(
        p.numel() for name, p in model.named_parameters()
        if ".mlp.experts." not in name and p is not embed and p is not head
    )
    config = model.config
    experts = expert_parameter_count(config) * config.num_experts_per_tok // config.num_local_experts
    return dense + head.numel() + experts


def live_output_rows(model) -> torch.Tensor | None:
    """Ids whose output-embedding row is not all zero, when most rows are zero; else None.
    The nano model is trained on a few thousand ids and expanded to the full vocabulary with
    zero rows, whose logits are exactly 0: computing only the live rows gives the same logits
    about ten times faster on CPU (measured 60 -> 600 tok/s). Real checkpoints use every row."""
    weight = model.get_output_embeddings().weight
    live = (weight != 0).any(dim=1).nonzero().flatten()
    return live if len(live) <= weight.shape[0] // 2 else None


def pick_token(logits: torch.Tensor, temperature: float, top_p: float, generator) -> int:
    """Greedy when temperature is 0; otherwise nucleus sampling from the tempered softmax."""
    if temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        probs, order = torch.sort(probs, descending=True)
        mass_before = torch.cumsum(probs, dim=0) - probs
        probs = probs * (mass_before < top_p)  # the smallest set reaching top_p; never empty
        return int(order[torch.multinomial(probs, 1, generator=generator)])
    return int(torch.multinomial(probs, 1, generator=generator))


def cache_argument_name(model) -> str:
    """transformers renamed `past_key_values` to `cache` during 5.x; accept either."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class Engine:
    kind = "transformers"

    def __init__(self, model, *, model_name: str, device: str):
        self.model = model.eval()
        self.model_name = model_name
        self.device = device
        self.active_params = active_parameter_count(model)
        self.last_prefill_ms: float | None = None
        self._cache_arg = cache_argument_name(model)
        self._live_rows = live_output_rows(model)
        if self._live_rows is not None:
            self._live_head = model.get_output_embeddings().weight[self._live_rows].detach()

    @classmethod
    def load(cls, path=None, device=None) -> "Engine":
        folder = model_folder(path)
        device = normalise_device(device)
        load_model = load_nano_checkpoint if is_nano(folder) else load_transformers_checkpoint
        return cls(load_model(folder, device), model_name=checkpoint_name(folder), device=device)

    def close(self) -> None:
        """Nothing to free beyond the model, which goes with the engine."""

    @property
    def context_length(self) -> int:
        return self.model.config.max_position_embeddings

    def generate(self, prompt_ids, *, max_new_tokens, temperature=0.0, top_p=1.0, seed=None,
                 stop_ids=STOP_TOKENS, should_cancel=None) -> Generation:
        """Token ids continuing `prompt_ids`, one at a time. The first comes right after the
        prefill (then the generation's `prefill_ms`, and the engine's `last_prefill_ms`, are
        set); a stop id is yielded and ends the stream; `should_cancel()` is asked before every
        forward pass after the first token."""
        prompt_ids, budget = check_request(prompt_ids, self.context_length, max_new_tokens,
                                           temperature, top_p)
        generator = None
        if temperature > 0 and seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(int(seed))
        generation = Generation()
        generation.tokens = self._decode(prompt_ids, budget, float(temperature), float(top_p), generator,
                                         frozenset(stop_ids), should_cancel or (lambda: False), generation)
        return generation

    def _forward(self, ids: list[int], cache) -> torch.Tensor:
        """Logits of the position after `ids`, extending `cache` by them."""
        input_ids = torch.tensor([ids], dtype=torch.long, device=self.device)
        kwargs = {"input_ids": input_ids, "use_cache": True, self._cache_arg: cache}
        if self._live_rows is None:
            return self.model(logits_to_keep=1, **kwargs).logits[0, -1]
        hidden = self.model.model(**kwargs).last_hidden_state[0, -1]
        logits = torch.zeros(self.model.config.vocab_size, dtype=hidden.dtype, device=hidden.device)
        return logits.index_copy_(0, self._live_rows, self._live_head @ hidden)

    @torch.inference_mode()
    def _decode(self, prompt_ids, budget, temperature, top_p, generator, stop, cancelled, generation):
        from transformers import DynamicCache

        self.last_prefill_ms = None
        if budget == 0 or cancelled():
            return
        cache = DynamicCache(config=self.model.config)
        started = time.perf_counter()
        token = pick_token(self._forward(prompt_ids, cache), temperature, top_p, generator)
        self.last_prefill_ms = (time.perf_counter() - started) * 1000  # int() above synced the device
        generation.prefill_ms = self.last_prefill_ms
        yield token
        produced = 1
        while token not in stop and produced < budget and not cancelled():
            token = pick_token(self._forward([token], cache), temperature, top_p, generator)
            produced += 1
            yield token
