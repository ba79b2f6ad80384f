"""gpt-oss's published MXFP4 format through the project's loader on CPU. A tiny checkpoint laid
out like gpt-oss-20b (config.json with its mxfp4 quantization_config; experts as uint8 blocks
and E8M0 scales; everything else bfloat16, sharded, the head untied) loads dequantized to
bfloat16 with exactly the values its blocks hold; its logits are bit for bit those of the
bfloat16 model with those expert weights, and within the quantization error of the model it was
quantized from; greedy generation runs. The quantizer that writes it is checked against
transformers' own MXFP4 decoder."""

import json
import shutil

import pytest
import torch
from mxfp4_checkpoint import (FP4_E2M1, as_dequantised, dequantise, is_expert_weight, quantise,
                              write_mxfp4_folder)
from tiny_gptoss import FULL_VOCAB, tiny_gptoss
from transformers import GptOssForCausalLM

from inference import engine as engine_module
from inference.engine import Engine, EngineError, bfloat16_bytes, mxfp4_kernels_problem

# a harmony prompt: <|start|>user<|message|>... <|end|><|start|>assistant
PROMPT = [200006, 1428, 200008, 3575, 553, 261, 10297, 13, 200007, 200006, 173781]


def test_quantiser_rounds_to_the_nearest_fp4_value_under_a_power_of_two_scale():
    grid = FP4_E2M1[:8]
    block = torch.cat([grid, -grid, grid, -grid])  # every FP4 value, largest 6
    exact = torch.stack([block / 8, block / 2])  # scales 2**-3 and 2**-1
    blocks, scales = quantise(exact)
    assert torch.equal(dequantise(blocks, scales), exact)
    assert scales.tolist() == [[127 - 3], [127 - 1]]
    assert blocks[0, 0, :4].tolist() == [0x10, 0x32, 0x54, 0x76]  # value 2j low nibble, 2j+1 high

    # ties go to the even code: 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4
    ties = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0] * 4)
    assert dequantise(*quantise(ties))[:8].tolist() == [0, 1, 1, 2, 2, 4, 4, 6]

    weight = torch.randn(8, 64, 96) * 0.02
    blocks, scales = quantise(weight)
    scale = torch.exp2(scales.float() - 127).repeat_interleave(32, dim=-1)
    amax = weight.abs().reshape(8, 64, 3, 32).amax(-1).repeat_interleave(32, dim=-1)
    assert ((amax / scale > 3) & (amax / scale <= 6)).all()  # the smallest scale clipping nothing
    # half the FP4 spacing: a quarter of the value from 1 up, a quarter of the scale below 1
    error = (dequantise(blocks, scales) - weight).abs()
    assert (error <= torch.maximum(weight.abs(), scale) / 4 + 1e-12).all()


def test_quantiser_layout_is_the_one_transformers_decodes():
    from transformers.integrations.mxfp4 import convert_moe_packed_tensors

    weight = torch.randn(4, 64, 128) * 0.02  # [experts, in, out], as transformers holds them
    blocks, scales = quantise(weight.transpose(1, 2))  # on disk: [experts, out, in/32, 16]
    decoded = convert_moe_packed_tensors(blocks, scales, dtype=torch.float32)
    assert torch.equal(decoded, dequantise(blocks, scales).transpose(1, 2))


@pytest.fixture(scope="module")
def original():
    return tiny_gptoss(vocab_size=FULL_VOCAB, tie_word_embeddings=False)  # gpt-oss's head is untied


@pytest.fixture(scope="module")
def folders(tmp_path_factory, original):
    root = tmp_path_factory.mktemp("mxfp4")
    write_mxfp4_folder(original, root / "gpt-oss-tiny")
    as_dequantised(original).save_pretrained(root / "dequantised")
    original.save_pretrained(root / "original")
    return root


@pytest.fixture(scope="module")
def engines(folders):
    return {name: Engine.load(folders / name, "cpu") for name in ("gpt-oss-tiny", "dequantised", "original")}


def logits(engine):
    with torch.no_grad():
        return engine.model(torch.tensor([PROMPT])).logits[0].float()


def relative(error, reference):
    return float(error.norm() / reference.norm())


def test_mxfp4_folder_loads_dequantised_to_the_values_its_blocks_hold(folders, engines, original):
    engine = engines["gpt-oss-tiny"]
    assert engine.model_name == "gpt-oss-tiny" and engine.device == "cpu"
    assert {p.dtype for p in engine.model.parameters()} == {torch.bfloat16}
    loaded = engine.model.state_dict()
    expected = as_dequantised(original).state_dict()
    assert sorted(loaded) == sorted(expected)
    assert all(torch.equal(loaded[name], expected[name]) for name in expected)
    assert engine.active_params == engines["original"].active_params
    assert bfloat16_bytes(folders / "gpt-oss-tiny") == sum(2 * t.numel() for t in expected.values())


def test_logits_equal_the_exactly_dequantised_bfloat16_model(engines):
    assert torch.equal(logits(engines["gpt-oss-tiny"]), logits(engines["dequantised"]))


def test_logits_are_within_the_quantisation_error_of_the_original(engines, original):
    """MXFP4 moves each expert weight by at most a quarter of its size (of its block's scale
    for the smallest, see the quantiser's test); over Gaussian weights
    that is a relative RMS error ε of about 0.12. To first order each MoE layer's output moves
    by ε of itself, and the logits by at most the sum over the layers: L·ε, 0.24 here.
    Measured: 0.085 on this model, 0.08-0.16 over seeds 0-15; a layout mistake lands far
    outside (scales one step off: 0.88; the two values of a byte swapped: 0.66)."""
    loaded = engines["gpt-oss-tiny"].model.state_dict()
    experts = [name for name in loaded if is_expert_weight(name)]
    weights = {name: original.state_dict()[name].to(torch.bfloat16).float() for name in experts}
    epsilon = relative(torch.cat([(loaded[n].float() - weights[n]).flatten() for n in experts]),
                       torch.cat([weights[n].flatten() for n in experts]))
    assert 0.05 < epsilon < 0.15

    reference = logits(engines["original"])
    error = relative(logits(engines["gpt-oss-tiny"]) - reference, reference)
    assert error < original.config.num_hidden_layers * epsilon


def test_greedy_generation_runs_and_matches_the_dequantised_model(engines):
    tokens = list(engines["gpt-oss-tiny"].generate(PROMPT, max_new_tokens=12, stop_ids=()))
    assert len(tokens) == 12 and all(0 <= t < FULL_VOCAB for t in tokens)
    assert tokens == list(engines["dequantised"].generate(PROMPT, max_new_tokens=12, stop_ids=()))
    assert engines["gpt-oss-tiny"].last_prefill_ms > 0


def test_a_checkpoint_too_large_for_memory_is_refused_before_loading(folders, monkeypatch):
    monkeypatch.setattr(engine_module, "memory_bytes", lambda device: 1000)

    def not_loaded(*args, **kwargs):
        raise AssertionError("loading started")
    monkeypatch.setattr(GptOssForCausalLM, "from_pretrained", not_loaded)
    with pytest.raises(EngineError, match=r"gpt-oss-tiny takes 0\.\d GB in bfloat16 dequantized "
                                          r"\(MXFP4 kernels are used on a GPU only\); cpu has 0\.0 GB"):
        Engine.load(folders / "gpt-oss-tiny", "cpu")


def test_experts_that_would_load_as_random_weights_are_refused(folders, tmp_path):
    folder = tmp_path / "gpt-oss-tiny"
    shutil.copytree(folders / "gpt-oss-tiny", folder)
    config = json.loads((folder / "config.json").read_text())
    del config["quantization_config"]  # the blocks and scales then match no parameter
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(EngineError, match=r"lacks 4 weights the model needs \(e\.g\. model\.layers\.0\.mlp\."
                                          r"experts\.down_proj\); it holds 8 that the model does not use"):
        Engine.load(folder, "cpu")


@pytest.fixture
def gpu(monkeypatch):
    """What transformers sees on a GPU machine with everything the MXFP4 kernels need."""
    import transformers.integrations.hub_kernels as hub_kernels
    import transformers.utils as utils

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (9, 0))
    for name in ("is_accelerate_available", "is_kernels_available", "is_triton_available"):
        monkeypatch.setattr(utils, name, lambda *a: True)
    monkeypatch.setattr(hub_kernels, "get_kernel", lambda *a, **k: object())
    return monkeypatch


def test_mxfp4_kernels_where_transformers_runs_them(gpu):
    import transformers.integrations.hub_kernels as hub_kernels
    import transformers.utils as utils

    assert mxfp4_kernels_problem("cpu") == "MXFP4 kernels are used on a GPU only"
    assert mxfp4_kernels_problem("cuda:0") is None

    gpu.setattr(utils, "is_kernels_available", lambda: False)
    gpu.setattr(utils, "is_triton_available", lambda version: False)
    assert mxfp4_kernels_problem("cuda:0") == "the MXFP4 kernels need kernels and triton>=3.4 (pip install)"
    gpu.setattr(utils, "is_kernels_available", lambda: True)
    gpu.setattr(utils, "is_triton_available", lambda version: True)

    def offline(*args, **kwargs):
        raise OSError("the Hub is not reachable")

    gpu.setattr(hub_kernels, "get_kernel", offline)
    assert "could not be loaded (the Hub is not reachable)" in mxfp4_kernels_problem("cuda:0")
    gpu.setattr(torch.cuda, "get_device_capability", lambda device: (7, 0))
    assert mxfp4_kernels_problem("cuda:0") == "cuda:0 has compute capability 7.0, below the kernels' 7.5"
