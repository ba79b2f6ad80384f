"""The nano data generator renders valid harmony: every span the model is trained to emit
parses back, with the project's own parser, into exactly the messages the generator wrote."""

import json

import pytest

from inference import harmony
from inference.harmony import EFFORTS
from inference.nano.corpus import examples, render, trained_positions
from inference.nano.generator import Generator
from inference.nano.problems import ContextMsg, Mix, split
from inference.nano.wordings import OUT_OF_DOMAIN_HELD_OUT
from inference.stream import HarmonyStream

KINDS = list(Generator.KIND_WEIGHTS)


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
