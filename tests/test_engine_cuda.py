"""The engine on a CUDA GPU (skipped where torch sees none): KV-cached decoding matches a full
recompute there too, a checkpoint folder loads onto the GPU in bfloat16, seeded sampling with
a CUDA generator is reproducible, and a whole turn reports the GPU as its device."""

import pytest
import torch
from tiny_gptoss import tiny_gptoss

from inference import events, harmony
from inference.engine import Engine
from inference.turn import run_turn

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
PROMPT = [11, 22, 33, 44, 55, 66]


def test_kv_cached_greedy_equals_full_recompute_on_gpu():
    model = tiny_gptoss(vocab_size=512).to("cuda")
    engine = Engine(model, model_name="tiny", device="cuda:0")
    ids = list(PROMPT)
    with torch.no_grad():
        for _ in range(10):
            ids.append(int(model(torch.tensor([ids], device="cuda"), use_cache=False).logits[0, -1].argmax()))
    assert list(engine.generate(PROMPT, max_new_tokens=10, stop_ids=())) == ids[len(PROMPT):]


def test_checkpoint_loads_on_the_gpu_in_bfloat16(tmp_path):
    tiny_gptoss().save_pretrained(tmp_path / "tiny-gptoss")
    engine = Engine.load(tmp_path / "tiny-gptoss")  # the default device is the GPU

    assert engine.device == "cuda:0"
    weight = engine.model.get_input_embeddings().weight
    assert weight.is_cuda and weight.dtype == torch.bfloat16

    def sample(seed):
        return list(engine.generate(PROMPT, max_new_tokens=8, temperature=1.0, seed=seed, stop_ids=()))
    assert sample(5) == sample(5)
    assert len(sample(6)) == 8

    frames = []
    run_turn(engine, [harmony.Msg("user", "What is 12*34?")],
             harmony.TurnSettings(builtin_tools=["calculator"], max_output_tokens=16), frames.append, turn_id=1)
    assert frames[-1]["type"] == "turn.done"
    assert set(events.METRIC_KEYS) <= set(frames[-1]["metrics"])
    assert frames[-1]["metrics"]["device"] == "cuda:0"
