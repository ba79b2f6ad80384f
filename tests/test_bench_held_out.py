"""The benchmark's held-out sets are held out: no prompt of the held-out wordings, held-out
function shapes or first messages is ever a training prompt (every user message of every corpus
the shipped checkpoint was trained on, of the recipe's and of the broadened mix's), their
templates are in none of training's lists, and no training module reads them."""

import re
from dataclasses import fields
from pathlib import Path

import pytest

from inference import bench_sets
from inference.nano import held_out, wordings
from inference.nano.checkpoint import DEFAULT_PATH, read_meta
from inference.nano.corpus import CHUNK
from inference.nano.generator import Generator
from inference.nano.problems import Mix
from inference.nano.recipe import Recipe

BROADENED = Mix(**{**Recipe().mix.__dict__, "everyday_rate": 0.5, "chat_weight": 0.1, "natural_rate": 0.5})


def normalised(text: str) -> str:
    """Case, runs of spaces and punctuation at either end do not make a prompt another one."""
    return re.sub(r"\s+", " ", text.lower()).strip(" .?!:)")


def corpora_behind(info: dict) -> list[tuple[int, int, Mix]]:
    """(seed, count, mix) of every corpus behind a checkpoint, as its nano.json records them: a
    fine-tune records the checkpoint it started from, an average the checkpoints it averaged, a
    grown checkpoint the one it grew, and so on down to the base run."""
    if "averaged" in info:
        return [c for part in info["averaged"] for c in corpora_behind(part["checkpoint"])]
    if "grown_from" in info:
        return corpora_behind(info["grown_from"])
    drawn = info["corpus"]
    own = (drawn["seed"], drawn["examples"], Mix(**{f.name: drawn[f.name] for f in fields(Mix) if f.name in drawn}))
    return [own, *corpora_behind(info["started_from"])] if "started_from" in info else [own]


def shipped_corpora() -> list[tuple[int, int, Mix]]:
    return list(dict.fromkeys(corpora_behind(read_meta(DEFAULT_PATH)["info"])))


CORPORA = list(dict.fromkeys([*shipped_corpora(), (Recipe.seed, Recipe.examples, Recipe().mix),
                              (Recipe.seed, Recipe.examples, BROADENED)]))


def training_prompts(mix: Mix, seed: int = Recipe.seed, count: int = Recipe.examples) -> set[str]:
    """Every user message of the corpus `train` draws (chunk by chunk, as `corpus.examples`)."""
    prompts = set()
    for chunk, start in enumerate(range(0, count, CHUNK)):
        gen = Generator(f"{seed}:{chunk}", mix=mix)
        for _ in range(min(CHUNK, count - start)):
            prompts.update(normalised(m.text) for m in gen.problem().prompt if m.role == "user")
    return prompts


def benchmark_prompts() -> dict[str, str]:
    return {normalised(p.prompt[-1].text): name for name in bench_sets.SETS for p in bench_sets.problems_of(name)}


@pytest.mark.parametrize("seed, count, mix", CORPORA,
                         ids=[f"seed{s}-{n}-{i}" for i, (s, n, _) in enumerate(CORPORA)])
def test_no_held_out_prompt_is_a_training_prompt(seed, count, mix):
    asked = benchmark_prompts()
    assert len(asked) > 120
    seen = training_prompts(mix, seed, count)
    assert len(seen) > count / 10
    assert sorted((asked[p], p) for p in asked if p in seen) == []


def test_the_check_finds_a_prompt_training_asks():
    seen = training_prompts(BROADENED, count=4_000)
    assert normalised("What time is it?") in seen and normalised("Thanks!") in seen


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings(v)]
    return []


def test_held_out_templates_are_in_no_training_list():
    trained = {normalised(s) for name in dir(wordings) if name.isupper() for s in strings(getattr(wordings, name))}
    templates = strings([held_out.OPS, held_out.PERCENT, held_out.POWER, held_out.HALF, held_out.UNIT_DOWN,
                         held_out.ZONE_QUESTIONS, held_out.NATURAL, held_out.CHAT])
    firsts = [prompt for _, prompt, _ in held_out.FIRST_MESSAGES]
    assert [t for t in templates + firsts if normalised(t) in trained] == []


def test_no_training_module_reads_the_held_out_lists():
    nano = Path(held_out.__file__).parent
    readers = [p.name for p in nano.glob("*.py")
               if p.name != "held_out.py" and re.search(r"held_out import|import held_out", p.read_text())]
    assert readers == []
