"""The embedded gpt-oss-nano as a standard Hugging Face folder, written once into a cache.

Serving engines such as vLLM read `config.json` + `model.safetensors`, not the project's compact
checkpoint (inference/nano/checkpoint.py: only the used embedding rows, tied output head). This
expands it once per checkpoint into `<cache>/<sha>/`, keyed by the hash of the checkpoint's files
and of this writer's format, so a retrained checkpoint gets a new folder and an unchanged one is
never written twice. The cache is $GPTOSS_HF_CACHE, else $XDG_CACHE_HOME/gptoss-chat/hf (default
~/.cache/gptoss-chat/hf). The folder is written beside its final name and renamed into place, so
concurrent workers never read half a folder.

vLLM's GptOssForCausalLM does not tie `lm_head` to the embedding: a checkpoint that leaves it out
generates token 0 forever. The folder holds `lm_head.weight` explicitly and says
`tie_word_embeddings: false`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

# Bump when what this module writes changes: the cache key includes it.
WRITER = "gptoss-chat/hf-folder-v1"
NANO_FILES = ("nano.json", "weights.safetensors")
HEAD, EMBED = "lm_head.weight", "model.embed_tokens.weight"


def cache_root() -> Path:
    configured = os.environ.get("GPTOSS_HF_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gptoss-chat" / "hf"


def checkpoint_key(compact: Path) -> str:
    """A short hash of the compact checkpoint's files and of this writer's format."""
    digest = hashlib.sha256(WRITER.encode())
    for name in NANO_FILES:
        digest.update(name.encode() + b"\0")
        with open(compact / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def hf_folder(compact, cache: Path | None = None) -> Path:
    """The Hugging Face folder of the compact checkpoint `compact`, written if not cached yet."""
    compact = Path(compact)
    root = Path(cache) if cache is not None else cache_root()
    folder = root / f"nano-{checkpoint_key(compact)}"
    if (folder / "config.json").is_file():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
    try:
        write_hf_folder(compact, tmp)
        for path in (tmp, *tmp.iterdir()):  # mkdtemp makes it private; the cache is readable
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            os.rename(tmp, folder)  # atomic; fails if another process renamed its copy first
        except OSError:
            if not (folder / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def write_hf_folder(compact: Path, out: Path) -> None:
    """config.json and model.safetensors of the expanded model, bf16 (the compact checkpoint's
    own precision, so no value changes), with an untied `lm_head.weight`."""
    import torch
    from safetensors.torch import save_file

    from ..nano.checkpoint import load_model

    model = load_model(compact, dtype=torch.bfloat16)
    tensors = {name: t.detach().contiguous() for name, t in model.state_dict().items()}
    tensors[HEAD] = tensors[HEAD].clone()  # tied in memory: two names, one storage
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config.to_dict()
    config.update(architectures=["GptOssForCausalLM"], tie_word_embeddings=False,
                  dtype="bfloat16", model_type="gpt_oss")
    config.pop("torch_dtype", None)
    config.pop("_name_or_path", None)
    (out / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
    meta = json.loads((compact / "nano.json").read_text())
    (out / "gptoss-chat.json").write_text(json.dumps(
        {"writer": WRITER, "source": str(compact.resolve()), "name": meta.get("name", "gpt-oss-nano")},
        indent=1) + "\n")
