"""The engine interface the turn loop uses, and `load`, which picks a backend.

An engine turns prompt token ids into generated token ids; rendering, parsing, tools and
metrics stay in the project (inference/harmony.py, the parser, inference/turn.py), so every
backend streams the same frames. Two backends:

- `transformers` (inference/engine.py): the model in this process, KV-cached decoding, one
  generation at a time. The embedded default.
- `vllm` (inference/engines/vllm.py): vLLM's AsyncLLM with continuous batching and prefix
  caching; many generations at once from many threads. Needs the `vllm` extra.

What an engine offers (both backends):
- `kind` (`transformers`, `vllm`: the metrics' `engine`), `model_name`, `device`,
  `active_params` (parameters used per token, for est. FLOPs), `context_length`;
- `generate(prompt_ids, *, max_new_tokens, temperature=0.0, top_p=1.0, seed=None,
  stop_ids=STOP_TOKENS, should_cancel=None)` → a `Generation`: an iterator of token ids. A stop
  id is yielded and ends it; `should_cancel()` is asked before each token after the first, and
  a true answer ends it. Bad arguments raise `EngineError` at the call;
- `close()`: frees the engine (vLLM's engine-core processes).

A `Generation` carries what the turn loop measures per generation: `prefill_ms`, set when the
first token comes out. It lives on the generation, not the engine, so that concurrent turns on
one engine each get their own. `close()` ends it early and frees what the engine holds for it
(vLLM aborts the request); closing a finished generation does nothing.
"""

from __future__ import annotations

from typing import Iterator

KINDS = ("transformers", "vllm")


class Generation:
    """The token ids of one generation, as an iterator over `tokens`."""

    def __init__(self, tokens: Iterator[int] | None = None):
        self.tokens = iter(tokens if tokens is not None else ())
        self.prefill_ms: float | None = None

    def __iter__(self):
        return self

    def __next__(self) -> int:
        return next(self.tokens)

    def close(self) -> None:
        close = getattr(self.tokens, "close", None)
        if close is not None:
            close()


def load(kind: str = "transformers", model=None, device=None, **options):
    """An engine of backend `kind` on the checkpoint folder `model` (default: $GPTOSS_MODEL, else
    the embedded gpt-oss-nano). `options` go to the vLLM backend (see `VllmEngine.load`)."""
    from ..engine import EngineError

    if kind == "transformers":
        if options:
            raise EngineError(f"the transformers engine takes no options ({', '.join(sorted(options))})")
        from ..engine import Engine

        return Engine.load(model, device)
    if kind == "vllm":
        from .vllm import VllmEngine

        return VllmEngine.load(model, device, **options)
    raise EngineError(f"unknown engine {kind!r}: use one of {', '.join(KINDS)}")
