"""Engine.load on a compact gpt-oss-nano folder (nano.json) goes through the nano loader:
the model is expanded to the full vocabulary, named from nano.json, run in float32, and its
zero output rows are skipped without changing a single token."""

import torch
from tiny_gptoss import tiny_gptoss

from inference.engine import Engine
from inference.nano.checkpoint import load_model, save_compact

PROMPT = [200006, 1428, 200008, 3575, 200007, 200006, 173781]


def test_compact_checkpoint_loads_and_decodes_like_the_expanded_model(tmp_path):
    used = sorted(set(range(1000)) | set(PROMPT) | {200002, 200005, 200012})
    model = tiny_gptoss()
    with torch.no_grad():  # only the used rows are trained; the rest are zero (tied)
        keep = torch.zeros(model.config.vocab_size, dtype=torch.bool)
        keep[used] = True
        model.get_input_embeddings().weight[~keep] = 0
    save_compact(model, used, tmp_path / "nano")

    engine = Engine.load(tmp_path / "nano", device="cpu")

    assert engine.model_name == "gpt-oss-nano"
    assert engine.model.get_input_embeddings().weight.dtype == torch.float32
    assert engine._live_rows is not None and engine._live_rows.tolist() == used
    expanded = load_model(tmp_path / "nano")
    ids = list(PROMPT)
    with torch.no_grad():
        for _ in range(8):
            ids.append(int(expanded(torch.tensor([ids]), use_cache=False).logits[0, -1].argmax()))
    assert list(engine.generate(PROMPT, max_new_tokens=8, stop_ids=())) == ids[len(PROMPT):]
