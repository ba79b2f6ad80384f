"""The harmony token timeline (inference/timeline.py) rebuilds, from what a turn stores, the
exact tokens its model was given and wrote, round by round: each round's prompt is the one the
engine received, its completion the tokens the engine produced, and the whole sequence parses
back (with openai-harmony's own parser) to the conversation's messages — system, developer,
history, the user's message, and the turn's own with their channels, recipients and tool
authors such as `browser.search` and `functions.calculator`."""

import openai_harmony as oh
import pytest

from factories import full_prompts
from inference import harmony, timeline
from inference.turn import run_turn
from scripted_engine import ScriptedEngine, calculator_call, final_answer

SEARCH = ('<|channel|>analysis<|message|>Search first.<|end|><|start|>assistant<|channel|>analysis'
          ' to=browser.search code<|message|>{"query": "12 * 34"}<|call|>')
FINAL = "<|channel|>analysis<|message|>The tool says 408.<|end|><|start|>assistant" + final_answer("**408**")
HISTORY = [harmony.Msg(role="user", text="Hi"),
           harmony.Msg(role="assistant", channel="analysis", text="Greet back."),  # not shown again
           harmony.Msg(role="assistant", channel="final", text="Hello!"),
           harmony.Msg(role="user", text="What is 12 * 34?")]
SETTINGS = harmony.TurnSettings(effort="high", developer_instructions="Answer briefly.",
                                builtin_tools=["calculator"], date="2026-03-01")


@pytest.fixture(scope="module")
def ran():
    """A turn with two tool rounds (a search nobody serves, the calculator), run on a scripted
    engine that records the prompts it was given, and its timeline."""
    engine = ScriptedEngine(SEARCH, calculator_call("12 * 34"), FINAL)
    result = run_turn(engine, HISTORY, SETTINGS, lambda frame: None, turn_id=7)
    assert result.status == "completed"
    stored = [timeline.Stored(m.index, m.to_msg(), m.token_ids) for m in result.messages]
    return engine, result, timeline.build(HISTORY, stored, SETTINGS)


def test_each_round_is_given_exactly_the_prompt_the_engine_received(ran):
    engine, _, built = ran
    assert [r.prompt for r in built.rounds] == engine.prompts
    assert full_prompts(built.as_json()["rounds"]) == engine.prompts, "the JSON lists them too"


def test_each_round_wrote_what_the_engine_produced_at_the_positions_it_had(ran):
    engine, _, built = ran
    produced = [harmony.encode(c) for c in (SEARCH, calculator_call("12 * 34"), FINAL)]
    assert [r.completion for r in built.rounds] == produced
    for r in built.as_json()["rounds"]:
        listed = [t for s in r["spans"] for t in s["tokens"]]
        assert [t["position"] for t in listed] == list(range(r["reused"], r["prompt_tokens"]
                                                             + r["completion_tokens"]))
        assert {s["round"] for s in r["spans"]} == {r["round"]}


def test_tool_answers_start_rounds_and_later_rounds_list_only_what_changed(ran):
    _, _, built = ran
    rounds = built.as_json()["rounds"]
    assert [r["tools"] for r in rounds] == [[], ["browser.search"], ["functions.calculator"]]
    assert rounds[0]["reused"] == 0
    for before, after in zip(built.rounds, built.rounds[1:]):
        # harmony renders a call's recipient before its channel, where the model wrote it after:
        # the prompt repeats the previous context up to that call's header
        assert 0 < after.reused < len(before.prompt) + len(before.completion)
        assert after.prompt[:after.reused] == (before.prompt + before.completion)[:after.reused]
    answer = [s for s in rounds[1]["spans"] if s["role"] == "tool"]
    assert [(s["part"], s["author"], s["channel"], s["recipient"]) for s in answer] == [
        ("prompt", "browser.search", "commentary", "assistant")]


def test_the_tokens_parse_back_to_the_stored_messages_prompt_messages_included(ran):
    _, result, built = ran
    last = built.rounds[-1]
    parsed = harmony.encoding().parse_messages_from_completion_tokens(last.prompt + last.completion, None)
    got = [(m.author.role.value, m.author.name, m.channel, m.recipient, m.content_type,
            m.content[0].text) for m in parsed]
    assert [g[0] for g in got[:2]] == ["system", "developer"]
    assert "Reasoning: high" in got[0][5] and "2026-03-01" in got[0][5]
    assert "Answer briefly." in got[1][5] and "calculator" in got[1][5]
    expected = [("user", None, None, None, None, "Hi"),
                ("assistant", None, "final", None, None, "Hello!"),
                ("user", None, None, None, None, "What is 12 * 34?")]
    expected += [(m.role, m.author, m.channel, m.recipient, m.content_type, m.text)
                 for m in result.messages]
    assert got[2:] == expected
    assert [g[1] for g in got if g[0] == "tool"] == ["browser.search", "functions.calculator"]


def test_every_round_parses_back_to_its_prompt_and_its_written_messages(ran):
    _, result, built = ran
    written = [m for m in result.messages if m.role == "assistant"]
    for r in built.rounds:
        parsed = harmony.encoding().parse_messages_from_completion_tokens(r.completion, oh.Role.ASSISTANT)
        mine = written[:len(parsed)]
        written = written[len(parsed):]
        assert [(m.channel, m.recipient, m.content[0].text) for m in parsed] == [
            (m.channel, m.recipient, m.text) for m in mine]
    assert written == []


def test_spans_name_their_message_and_special_tokens_are_marked(ran):
    _, _, built = ran
    first = built.as_json()["rounds"][0]
    prompt = [s for s in first["spans"] if s["part"] == "prompt"]
    assert [(s["role"], s["channel"]) for s in prompt] == [
        ("system", None), ("developer", None), ("user", None), ("assistant", "final"),
        ("user", None), ("assistant", None)]
    assert "".join(t["text"] for t in prompt[-1]["tokens"]) == "<|start|>assistant"
    completion = [s for s in first["spans"] if s["part"] == "completion"]
    assert [(s["channel"], s["recipient"], s["message"]) for s in completion] == [
        ("analysis", None, 0), ("analysis", "browser.search", 1)]
    tokens = [t for s in first["spans"] for t in s["tokens"]]
    special = {t["text"] for t in tokens if t["special"]}
    assert special == {"<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|call|>"}
    assert all(t["id"] >= timeline.FIRST_SPECIAL_ID for t in tokens if t["special"])
    assert not any(t["text"].startswith("<|") for t in tokens if not t["special"])


def test_a_character_split_across_tokens_shows_its_bytes():
    ids = harmony.encode("🦜")  # one emoji, several byte-level tokens in o200k
    shown = [timeline.token(i, n) for n, i in enumerate(ids)]
    assert len(ids) > 1 and all(t.get("hex") for t in shown)


def test_a_message_stored_without_token_ids_is_rendered_instead():
    msg = harmony.Msg(role="assistant", channel="final", text="408")
    built = timeline.build(HISTORY, [timeline.Stored(0, msg, [])], SETTINGS)
    assert harmony.decode(built.rounds[0].completion) == "<|start|>assistant<|channel|>final<|message|>408<|end|>"
