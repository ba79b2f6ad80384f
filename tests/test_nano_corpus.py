"""The corpus gpt-oss-nano trains on, and the benchmark's problems drawn by the same generator.

Every span the model is trained to emit parses back, with the product's own parser, into exactly
the messages the generator wrote; the effort design holds at every kind; held-out names and
prompts never reach training; the training mix asks for more of the hard cases without changing
a benchmark problem; the corpus maps into a checkpoint's id space; and the benchmark's problems
and the base recipe's corpus stay exactly what they were (pinned fingerprints).
"""

import hashlib
import json
import re
from collections import Counter

import numpy as np
import pytest

from inference import harmony
from inference.bench import held_out_problems
from inference.harmony import EFFORTS, decode, encode
from inference.nano.corpus import Corpus, copied_tokens, examples, render
from inference.nano.generator import Generator
from inference.nano.problems import KIND_WEIGHTS, ContextMsg, Mix, split
from inference.nano.recipe import Recipe
from inference.nano.wordings import OUT_OF_DOMAIN_HELD_OUT
from inference.parser import HarmonyStream
from inference.training_data import trained_positions

KINDS = list(Generator.KIND_WEIGHTS)
BARE = re.compile(r"-?\d+(\.\d+)?")
CODE = re.compile(r"\b[A-Z]{2}\d{2,4}\b")


# -- rendered conversations ------------------------------------------------------------------


def generated_spans(ids, marks):
    """The contiguous runs of trained tokens: one per generation (tool results cut them)."""
    spans, current = [], []
    for tok, mark in zip(ids, marks):
        if mark:
            current.append(tok)
        elif current:
            spans.append(current)
            current = []
    return spans + ([current] if current else [])


def parse(span):
    stream = HarmonyStream("t", lambda frame: None)
    for tok in span:
        stream.feed(tok)
    stream.finish()
    return stream


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("effort", EFFORTS)
def test_trained_spans_parse_back_into_the_generated_messages(kind, effort):
    gen = Generator(seed=7)
    for _ in range(4):
        problem = gen.problem(kind, effort)
        example = render(problem)
        assert example.ids[-1] == harmony.RETURN
        spans = generated_spans(example.ids, trained_positions(example.ids))
        parsed = []
        for span in spans:
            stream = parse(span)
            assert stream.problems == [] and stream.notes == []
            assert stream.stop_token in (harmony.CALL, harmony.RETURN)
            parsed += stream.messages
        wanted = [m for m in problem.answer if m.role == "assistant"]
        assert [(m.channel, m.recipient, m.text) for m in parsed] == [
            (m.channel, m.recipient, m.text) for m in wanted
        ]


def test_prompt_is_the_prefix_the_model_continues():
    gen = Generator(seed=3)
    for kind in KINDS:
        problem = gen.problem(kind, "high")
        ids = render(problem).ids
        prompt = harmony.render_prompt(problem.prompt, problem.settings)
        assert ids[: len(prompt)] == prompt
        assert trained_positions(ids)[len(prompt)] and not trained_positions(ids)[len(prompt) - 1]


def test_tool_calls_are_json_objects_of_declared_tools():
    gen = Generator(seed=5)
    for _ in range(30):
        problem = gen.problem("function")
        declared = {t.name: t for t in problem.settings.tools}
        call = next(m for m in problem.answer if m.recipient)
        name = call.recipient.removeprefix("functions.")
        args = json.loads(call.text)
        assert name in declared and args == problem.expected["call"]["arguments"]
        assert set(args) <= set(declared[name].parameters["properties"])


def test_held_out_tools_never_appear_in_training_names():
    train, held = Generator(seed=1), Generator(seed=1, held_out=True)
    assert all(split(train.tool_name()[0]) == "train" for _ in range(200))
    assert all(split(held.tool_name()[0]) == "held_out" for _ in range(200))


def test_held_out_parameter_names_never_appear_in_training():
    train, held = Generator(seed=1), Generator(seed=1, held_out=True)
    trained = {train.param(set())["name"] for _ in range(3000)}
    assert all(split(name) == "train" for name in trained)
    assert all(split(held.param(set())["name"]) == "held_out" for _ in range(200))


def test_parameter_bases_take_many_suffixes_in_training():
    # With few suffixes per base the model learns which ones follow it and writes a training
    # name where a held-out one is declared, instead of copying the declaration.
    gen = Generator(seed=1)
    suffixes = {}
    for _ in range(20_000):
        base, _, suffix = gen.param(set())["name"].partition("_")
        suffixes.setdefault(base, set()).add(suffix)
    assert min(len(s) for s in suffixes.values()) >= 20


def test_training_never_asks_a_held_out_out_of_domain_prompt():
    gen = Generator(seed=3)
    drawn = {gen.out_of_domain("low").prompt[-1].text for _ in range(3000)}
    assert len(drawn) > 200
    assert not drawn & set(OUT_OF_DOMAIN_HELD_OUT)


@pytest.mark.parametrize("kind", ["arithmetic", "function"])
@pytest.mark.parametrize("effort", ["medium", "high"])
def test_medium_and_high_plans_carry_the_call_verbatim(kind, effort):
    gen = Generator(seed=4, mix=Mix(correction_rate=0.0))
    for _ in range(30):
        answer = gen.problem(kind, effort).answer
        call = next(m for m in answer if m.recipient)
        assert f"with {call.text}, then" in answer[0].text


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("effort", EFFORTS)
def test_the_analysis_opens_with_the_effort_of_the_system_message(kind, effort):
    gen = Generator(seed=6)
    for _ in range(5):
        problem = gen.problem(kind, effort)
        text = harmony.decode(render(problem).ids)
        assert f"Reasoning: {effort}\n" in text
        analyses = [m.text for m in problem.answer if m.channel == "analysis"]
        assert analyses[0].startswith(f"Reasoning: {effort}. ")
        assert not any(a.startswith("Reasoning:") for a in analyses[1:])


def test_the_corpus_does_not_depend_on_the_number_of_rendering_processes():
    one, two = examples(seed=5, count=2_100, workers=1), examples(seed=5, count=2_100, workers=2)
    assert [e.ids for e in one] == [e.ids for e in two]


def test_previous_turns_are_context_not_targets():
    problem = Generator(seed=2).problem("follow_up", "medium")
    example = render(problem)
    last_user = max(i for i, t in enumerate(example.ids) if t == harmony.encode("user")[0])
    assert not any(example.trained[:last_user])


def test_a_fixed_mistake_is_shown_but_not_trained():
    gen = Generator(seed=4, mix=Mix(correction_rate=1.0))
    problem = gen.problem("arithmetic", "high")
    while not any(isinstance(m, ContextMsg) for m in problem.answer):
        problem = gen.problem("arithmetic", "high")
    example = render(problem)
    wrong = next(m for m in problem.answer if isinstance(m, ContextMsg))
    trained_text = harmony.decode([t for t, m in zip(example.ids, example.trained) if m])
    assert wrong.text not in trained_text
    assert wrong.text in harmony.decode(example.ids)
    calls = [m for m in problem.answer if m.recipient == "functions.calculator"]
    assert len(calls) == 2 and calls[-1].text == json.dumps({"expression": problem.expected["expression"]})
    again = json.dumps({"expression": problem.expected["expression"]})
    assert f"Call the calculator again with {again}" in harmony.decode(example.ids)


def test_many_draws_render_with_mistakes_fixed_at_high_effort():
    drawn = examples(seed=9, count=400, mix=Mix(correction_rate=1.0))
    assert all(e.ids[-1] == harmony.RETURN and any(e.trained) for e in drawn)


# -- the training mix against the benchmark -----------------------------------------------
# The base recipe asks for more codes, follow-ups, builder functions and earlier exchanges,
# and words every bare-number answer; the benchmark's problems keep the default Mix.


def codes_in(problems, where) -> int:
    return sum(len(CODE.findall(text)) for p in problems for text in where(p))


def function_problems(mix: Mix, n: int = 400):
    gen = Generator(seed=21, mix=mix)
    return [gen.problem("function") for _ in range(n)]


def test_a_training_mix_can_ask_for_more_codes_in_requests():
    recipe = Recipe(code_rate=0.9, history_rate=0.0)  # codes the only difference
    benchmark, training = function_problems(Mix()), function_problems(recipe.mix)
    requests = lambda p: [m.text for m in p.prompt]  # noqa: E731
    assert codes_in(training, requests) > 2 * codes_in(benchmark, requests)


def test_the_benchmark_problems_keep_the_default_mix():
    problems = held_out_problems(200)
    assert codes_in(problems, lambda p: p.tool_results.values()) == 0
    assert 5 <= codes_in(problems, lambda p: [m.text for m in p.prompt]) <= 20


def kinds(mix: Mix, n: int = 600) -> Counter:
    gen = Generator(seed=41, mix=mix)
    return Counter(gen.problem().kind for _ in range(n))


def test_the_default_mix_draws_the_benchmark_kinds_and_training_asks_for_more_of_the_hardest():
    assert (Mix().follow_up_weight, Mix().function_weight) == (KIND_WEIGHTS["follow_up"], KIND_WEIGHTS["function"])
    trained = Recipe().mix
    assert trained.follow_up_weight > Mix().follow_up_weight
    assert trained.function_weight > Mix().function_weight


def test_a_heavier_follow_up_weight_draws_more_follow_ups():
    default, heavier = kinds(Mix()), kinds(Recipe(follow_up_weight=0.36, function_weight=0.5).mix)
    assert heavier["follow_up"] > 2 * default["follow_up"]
    assert heavier["function"] > default["function"]
    assert heavier["clock"] < default["clock"]


def test_the_benchmark_asks_new_requests_without_history():
    problems = held_out_problems(200)
    assert all(len(p.prompt) == 1 for p in problems if p.kind != "follow_up")
    assert Mix().history_rate == 0.0


def test_a_new_request_can_follow_an_answered_one_and_only_the_new_turn_is_trained():
    gen = Generator(seed=32, mix=Recipe(history_rate=1.0).mix)
    for kind in ("arithmetic", "clock", "function", "out_of_domain"):
        for effort in harmony.EFFORTS:
            problem = gen.problem(kind, effort)
            user, answer, request = problem.prompt
            assert (user.role, answer.role, answer.channel, request.role) == ("user", "assistant", "final", "user")
            ids = render(problem).ids
            prompt = harmony.render_prompt(problem.prompt, problem.settings)
            assert ids[:len(prompt)] == prompt and answer.text in harmony.decode(prompt)
            parsed = [m for span in generated_spans(ids, trained_positions(ids)) for m in parse(span).messages]
            assert [m.text for m in parsed] == [m.text for m in problem.answer if m.role == "assistant"]


def test_follow_ups_keep_their_own_history():
    problem = Generator(seed=33, mix=Mix(history_rate=1.0)).problem("follow_up", "low")
    assert [m.role for m in problem.prompt] == ["user", "assistant", "user"]


def finals(problems, where):
    return [m.text for p in problems for m in where(p) if m.channel == "final"]


def draw(mix: Mix, kind: str, n: int = 300):
    gen = Generator(seed=51, mix=mix)
    return [gen.problem(kind) for _ in range(n)]


def test_worded_answers_are_never_bare():
    for kind in ("arithmetic", "follow_up"):
        answers = finals(draw(Mix(bare_answer_rate=0.0), kind), lambda p: p.answer)
        assert answers and not any(BARE.fullmatch(text) for text in answers)


def test_the_default_mix_keeps_bare_answers():
    answers = finals(draw(Mix(), "arithmetic"), lambda p: p.answer)
    assert sum(bool(BARE.fullmatch(text)) for text in answers) > 20


def test_follow_up_histories_keep_bare_answers():
    histories = finals(draw(Mix(bare_answer_rate=0.0), "follow_up"), lambda p: p.prompt)
    assert sum(bool(BARE.fullmatch(text)) for text in histories) > 20


def one_digit_at_low(mix: Mix) -> list:
    gen = Generator(seed=52, mix=mix)
    return [p for p in (gen.problem("arithmetic", "low") for _ in range(2000))
            if re.fullmatch(r"\d [*+] \d", p.expected["expression"])]


def test_low_effort_answers_one_digit_facts_by_heart_unless_the_mix_says_otherwise():
    by_heart, with_the_tool = one_digit_at_low(Mix()), one_digit_at_low(Mix(by_heart_rate=0.0))
    assert len(by_heart) > 20 and len(with_the_tool) > 20
    assert all("Easy:" in p.answer[0].text and len(p.answer) == 2 for p in by_heart)
    for p in with_the_tool:
        call = next(m for m in p.answer if m.recipient == "functions.calculator")
        assert json.loads(call.text) == {"expression": p.expected["expression"]}


def unit_share(mix: Mix) -> float:
    gen = Generator(seed=62, mix=mix)
    problems = [gen.everyday("medium") for _ in range(400)]  # its analysis names the factor
    return sum(" each, that is " in p.answer[0].text for p in problems) / len(problems)


def test_a_unit_rate_draws_more_unit_conversions():
    assert 0.15 < unit_share(Mix()) < 0.45 and unit_share(Mix(unit_rate=0.5)) > 0.55


# -- the corpus in the model's id space, and what the loss weighs up -------------------------


def small_corpus(seed):
    gen = Generator(seed=seed)
    return Corpus([render(gen.problem()) for _ in range(6)])


def test_a_corpus_is_mapped_into_a_larger_id_space_token_for_token():
    corpus = small_corpus(41)
    wider = sorted(set(corpus.used_ids) | {1, 2, 3, 200_000})
    mapped = corpus.mapped_to(wider)
    assert mapped.used_ids == wider and len(mapped.copied) == len(wider)
    for before, after in zip(corpus.ids, mapped.ids):
        assert [wider[i] for i in after] == [corpus.used_ids[i] for i in before]
    assert all(np.array_equal(a, b) for a, b in zip(corpus.trained, mapped.trained))


def test_a_corpus_with_a_token_the_model_lacks_is_refused():
    corpus = small_corpus(42)
    with pytest.raises(ValueError, match="not in the model's"):
        corpus.mapped_to(corpus.used_ids[1:])


def flags(text: str) -> dict[str, bool]:
    ids = encode(text)
    return {decode([t]): bool(flag) for t, flag in zip(ids, copied_tokens(ids))}


def test_digits_and_effort_words_are_copied():
    marked = flags(" order 1234 gives 1234, effort high")
    assert marked["123"] and marked["4"]
    assert marked[" high"]
    assert not marked[" order"] and not marked[" effort"]


def test_template_words_are_not():
    marked = flags("The user wants to check the order. Plan: call the tool")
    assert not any(marked.values())


# -- pinned draws --------------------------------------------------------------------------
# Figures compare across checkpoints only on the same problems, and the shipped checkpoint's
# command reproduces it only from the same corpus: a change to the generator must leave these
# draws alone, or change them on purpose and say so.


def fingerprint(problems) -> str:
    text = "\n".join(f"{p.kind}|{p.settings!r}|{[m.text for m in p.prompt]}|{[m.text for m in p.answer]}|{p.expected}"
                     for p in problems)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_held_out_problems_are_unchanged():
    assert fingerprint(held_out_problems(200)) == "db4a990ca2df0fd1"
    assert fingerprint(held_out_problems(200, after_an_exchange=True)) == "fee3566f6bdc9801"


def test_the_default_training_corpus_is_unchanged():
    gen = Generator("0:0", mix=Recipe().mix)  # chunk 0 of `train`'s corpus with the default recipe
    assert fingerprint([gen.problem() for _ in range(500)]) == "8e16506cb11aaab4"
