"""Rendering prompts with inference.harmony: system (effort, date), developer (tools from
JSON schemas, validated) and the multi-turn rule."""

import re

import pytest

from inference import harmony
from inference.harmony import FunctionTool, Msg, RenderError, TurnSettings


def render_text(messages=None, **settings):
    messages = messages or [Msg(role="user", text="hi")]
    return harmony.decode(harmony.render_prompt(messages, TurnSettings(**settings)))


def weather_tool(**overrides):
    spec = {"name": "get_weather", "description": "Current weather of a city.",
            "parameters": {"type": "object",
                           "properties": {"city": {"type": "string", "description": "City name"},
                                          "unit": {"type": "string", "enum": ["C", "F"]}},
                           "required": ["city"]}}
    spec.update(overrides)
    return FunctionTool(**spec)


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_system_message_carries_the_reasoning_effort(effort):
    assert f"Reasoning: {effort}" in render_text(effort=effort)


def test_unknown_effort_is_refused():
    with pytest.raises(RenderError, match="effort must be one of low, medium, high"):
        render_text(effort="extreme")


def test_conversation_date_is_rendered():
    assert "Current date: 2025-01-02" in render_text(date="2025-01-02")


def test_prompt_ends_with_the_assistant_start():
    ids = harmony.render_prompt([Msg(role="user", text="hi")], TurnSettings())
    assert ids[-2:] == harmony.encode("<|start|>assistant")


def test_no_developer_message_without_tools_or_instructions():
    assert "<|start|>developer" not in render_text()
    assert "<|start|>developer<|message|># Instructions\n\nBe terse." in render_text(
        developer_instructions="Be terse.")


def test_builtin_calculator_is_declared_typescript_like():
    text = render_text(builtin_tools=["calculator"])
    assert "namespace functions {" in text
    assert "type calculator = (_: {" in text and "expression: string," in text
    assert "Calls to these tools must go to the commentary channel: 'functions'." in text


def test_builder_tool_schema_becomes_a_declaration():
    text = render_text(tools=[weather_tool()], builtin_tools=["clock"])
    assert "// Current weather of a city." in text
    assert "type get_weather = (_: {" in text
    assert "city: string," in text and 'unit?: "C" | "F",' in text
    assert text.index("type clock") < text.index("type get_weather")  # built-ins first


@pytest.mark.parametrize("tool, message", [
    (weather_tool(name="get weather"), "must be letters, digits and '_'"),
    (weather_tool(name="1tool"), "not start with a digit"),
    (weather_tool(parameters={"type": "string"}), "parameters must be a JSON schema of type object"),
    (weather_tool(parameters={"type": "object", "properties": {"a": {"type": "text"}}}),
     "parameters at $.properties.a.type: 'text' is not one of ['array', 'boolean', "),
    (weather_tool(parameters={"type": "object", "properties": []}),
     "parameters at $.properties: [] is not of type 'object'"),
    (weather_tool(parameters={"type": "object", "properties": {}, "required": ["city"]}),
     "required properties not declared: city"),
    (weather_tool(parameters={"type": "object", "properties": {"a": {"enum": "C"}}}),
     "parameters at $.properties.a.enum: 'C' is not of type 'array'"),
    # the whole metaschema applies, not only the keywords harmony renders
    (weather_tool(parameters={"type": "object", "properties": {"n": {"type": "number", "minimum": "0"}}}),
     "parameters at $.properties.n.minimum: '0' is not of type 'number'"),
    (weather_tool(parameters=["city"]), "a JSON schema must be an object"),
])
def test_bad_builder_tool_schemas_are_clear_errors(tool, message):
    with pytest.raises(RenderError, match=re.escape(message)):
        render_text(tools=[tool])


def test_a_tool_declared_twice_is_refused():
    with pytest.raises(RenderError, match="declared twice"):
        render_text(tools=[weather_tool(), weather_tool()])
    with pytest.raises(RenderError, match="'calculator' is declared twice"):
        render_text(tools=[weather_tool(name="calculator")], builtin_tools=["calculator"])


def conversation():
    return [
        Msg(role="user", text="What is 2+2?"),
        Msg(role="assistant", channel="analysis", text="EARLIER-ANALYSIS simple sum"),
        Msg(role="assistant", channel="final", text="EARLIER-FINAL 4"),
        Msg(role="user", text="And 12*34?"),
        Msg(role="assistant", channel="analysis", text="CURRENT-ANALYSIS use the calculator"),
        Msg(role="assistant", channel="commentary", recipient="functions.calculator",
            content_type="<|constrain|>json", text='{"expression": "12*34"}'),
        Msg(role="tool", author="functions.calculator", channel="commentary",
            recipient="assistant", text="408"),
    ]


def test_multi_turn_rule_drops_earlier_analysis_and_keeps_the_current_turn():
    text = render_text(conversation(), builtin_tools=["calculator"])
    assert "EARLIER-ANALYSIS" not in text
    assert "<|start|>assistant<|channel|>final<|message|>EARLIER-FINAL 4<|end|>" in text
    assert "<|channel|>analysis<|message|>CURRENT-ANALYSIS use the calculator<|end|>" in text
    assert ('to=functions.calculator<|channel|>commentary <|constrain|>json<|message|>'
            '{"expression": "12*34"}<|call|>') in text
    assert "<|start|>functions.calculator to=assistant<|channel|>commentary<|message|>408<|end|>" in text


def test_visible_history_keeps_earlier_finals_and_user_messages_only():
    kept = harmony.visible_history(conversation())
    assert [m.text for m in kept[:3]] == ["What is 2+2?", "EARLIER-FINAL 4", "And 12*34?"]
    assert len(kept) == 6


def test_tool_message_without_author_is_refused():
    with pytest.raises(RenderError, match="needs its author"):
        render_text([Msg(role="user", text="hi"), Msg(role="tool", text="408")])
