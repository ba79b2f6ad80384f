"""A tokens row's loss mask is 1 exactly on what the assistant generated in the turn: checked
position by position on a hand-built conversation of two user turns, the second with a tool
round. Earlier turns keep only their finals (harmony's rule: their analysis is gone)."""

from inference import harmony, training_data
from inference.training_data import trained_positions
from tests.factories import transcript_settings, two_turn_messages

# After the system and developer messages, what the model saw (0) and wrote (1), written out
# by hand. Each generation's `<|start|>assistant` comes from the renderer; inside a generation
# the model writes the next message's `<|start|>assistant` itself (the call after its analysis).
EXPECTED_AFTER_HEAD = [
    ("<|start|>user<|message|>Hi<|end|>", 0),
    ("<|start|>assistant<|channel|>final<|message|>Hello!<|end|>", 0),  # earlier final: context
    ("<|start|>user<|message|>What is 2+2?<|end|><|start|>assistant", 0),
    ("<|channel|>analysis<|message|>Use the calculator.<|end|>"
     "<|start|>assistant to=functions.calculator<|channel|>commentary <|constrain|>json"
     '<|message|>{"expression": "2+2"}<|call|>', 1),
    ("<|start|>functions.calculator to=assistant<|channel|>commentary<|message|>4<|end|>"
     "<|start|>assistant", 0),
    ("<|channel|>final<|message|>It is 4.<|return|>", 1),
]


def hand_built():
    return training_data.conversation(two_turn_messages(), transcript_settings())


def test_the_mask_covers_exactly_the_generated_tokens_position_by_position():
    row = training_data.tokens_and_mask(hand_built())
    assert len(row.tokens) == len(row.loss_mask)
    tail_tokens, tail_mask = [], []
    for text, mark in EXPECTED_AFTER_HEAD:
        ids = harmony.encode(text)
        tail_tokens += ids
        tail_mask += [mark] * len(ids)
    head = len(row.tokens) - len(tail_tokens)
    assert harmony.decode(row.tokens[:head]).startswith("<|start|>system<|message|>")
    assert harmony.decode(row.tokens[:head]).endswith("} // namespace functions<|end|>")
    assert row.tokens[head:] == tail_tokens
    assert row.loss_mask == [0] * head + tail_mask


def test_earlier_analysis_is_not_in_the_tokens_and_the_rendering_is_the_products():
    row = training_data.tokens_and_mask(hand_built())
    assert "Greet back." not in harmony.decode(row.tokens)
    assert row.tokens == harmony.render_training(two_turn_messages(), transcript_settings())


def test_the_mask_agrees_with_what_the_nano_trainer_trains():
    row = training_data.tokens_and_mask(hand_built())
    assert [bool(m) for m in row.loss_mask] == trained_positions(row.tokens)


def test_a_message_cut_off_does_not_train_the_closing_token_it_never_wrote():
    messages = two_turn_messages()[:-1] + [harmony.Msg("assistant", "It is", channel="final")]
    conversation = training_data.conversation(messages, transcript_settings())
    whole = training_data.tokens_and_mask(conversation)
    cut = training_data.tokens_and_mask(conversation, cut_off=True)
    assert harmony.decode(cut.tokens[-1:]) == "<|return|>"
    assert whole.loss_mask[-1] == 1 and cut.loss_mask[-1] == 0
    assert cut.loss_mask[:-1] == whole.loss_mask[:-1]


def test_a_harmony_row_reads_back_as_the_settings_and_messages_it_came_from():
    dicts = training_data.message_dicts(hand_built())
    settings, body = training_data.turn_from_messages(dicts)
    assert (settings.effort, settings.date, settings.developer_instructions) == ("low", "2026-03-01",
                                                                                 "Answer briefly.")
    assert settings.builtin_tools == ["calculator"] and [t.name for t in settings.tools] == ["lookup"]
    assert training_data.message_dicts(training_data.conversation(body, settings)) == dicts


def test_the_masked_tokens_are_the_ids_the_nano_model_generated_over_two_turns():
    """Real generations: the committed checkpoint through the product's turn loop, a turn with
    a calculator round, then a second turn; each turn's masked tokens, in order, are exactly
    the ids the model sampled for its messages."""
    from inference.engine import Engine
    from inference.nano.checkpoint import DEFAULT_PATH
    from inference.turn import run_turn

    engine = Engine.load(DEFAULT_PATH, "cpu")
    settings = harmony.TurnSettings(effort="low", builtin_tools=["calculator", "clock"], date="2026-03-01")
    messages = []
    for text in ("What is 12 * 34?", "What is 7 * 8?"):
        messages.append(harmony.Msg("user", text))
        result = run_turn(engine, messages, settings, lambda frame: None, turn_id="t")
        assert result.status == "completed", result.error
        messages += [m.to_msg() for m in result.messages]
        row = training_data.tokens_and_mask(training_data.conversation(messages, settings))
        trained = [t for t, m in zip(row.tokens, row.loss_mask) if m]
        assert trained == [t for m in result.messages if m.role == "assistant" for t in m.token_ids]
    assert any(m.role == "tool" for m in messages)
