"""A compact gpt-oss-nano checkpoint written out once as a Hugging Face folder (what vLLM reads):
an untied `lm_head.weight` (vLLM's GptOss does not tie it), the same logits as the compact
loader, a cache keyed by the checkpoint's content, and no half-written folder ever visible."""

import json

import torch
from safetensors import safe_open
from tiny_gptoss import tiny_gptoss
from transformers import GptOssForCausalLM

from inference.engines import hf_folder as hf
from inference.nano.checkpoint import load_model, save_compact

PROMPT = [200006, 1428, 200008, 3575, 200007, 200006, 173781]


def compact_checkpoint(path, seed=0):
    used = sorted(set(range(500)) | set(PROMPT) | {200002, 200005, 200012})
    model = tiny_gptoss(seed=seed)
    with torch.no_grad():
        keep = torch.zeros(model.config.vocab_size, dtype=torch.bool)
        keep[used] = True
        model.get_input_embeddings().weight[~keep] = 0
    return save_compact(model, used, path)


def test_folder_holds_an_untied_head_and_gives_the_compact_models_logits(tmp_path):
    compact = compact_checkpoint(tmp_path / "nano")

    folder = hf.hf_folder(compact, cache=tmp_path / "cache")

    config = json.loads((folder / "config.json").read_text())
    assert config["tie_word_embeddings"] is False and config["architectures"] == ["GptOssForCausalLM"]
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        head, embed = f.get_tensor(hf.HEAD), f.get_tensor(hf.EMBED)
    assert head.dtype == torch.bfloat16 and torch.equal(head, embed) and head.abs().sum() > 0
    written = GptOssForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True).eval()
    expected = load_model(compact)
    with torch.no_grad():
        ids = torch.tensor([PROMPT])
        assert torch.equal(written(ids).logits, expected(ids).logits)


def test_written_once_per_checkpoint_content(tmp_path, monkeypatch):
    monkeypatch.setenv("GPTOSS_HF_CACHE", str(tmp_path / "cache"))
    first = hf.hf_folder(compact_checkpoint(tmp_path / "a"))
    assert first.parent == tmp_path / "cache"
    stamp = (first / "model.safetensors").stat().st_mtime_ns

    monkeypatch.setattr(hf, "write_hf_folder", lambda *a: (_ for _ in ()).throw(AssertionError("rewritten")))
    assert hf.hf_folder(tmp_path / "a") == first  # cached: not written again
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp
    monkeypatch.undo()

    monkeypatch.setenv("GPTOSS_HF_CACHE", str(tmp_path / "cache"))
    other = hf.hf_folder(compact_checkpoint(tmp_path / "b", seed=1))
    assert other != first and sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        [first.name, other.name])  # no temporary folder left behind


def test_a_folder_finished_first_by_another_process_wins(tmp_path, monkeypatch):
    compact = compact_checkpoint(tmp_path / "nano")
    cache = tmp_path / "cache"
    final = cache / f"nano-{hf.checkpoint_key(compact)}"
    write = hf.write_hf_folder

    def racing(source, out):  # another worker renames its copy into place meanwhile
        final.mkdir(parents=True)
        (final / "config.json").write_text("{}")
        write(source, out)

    monkeypatch.setattr(hf, "write_hf_folder", racing)
    assert hf.hf_folder(compact, cache=cache) == final
    assert [p.name for p in cache.iterdir()] == [final.name]
