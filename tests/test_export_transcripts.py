"""`manage.py export_transcripts` writes one JSON row per finished turn: harmony messages with
the system and developer messages (tools declared), or tokens with their loss mask; it filters
by user, date, model, effort and lint (completed turns found clean), and refuses bad arguments saying which."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from inference import harmony
from webapp.chat.models import Turn
from tests.factories import (TWO_TURNS, lint_finding, stored_conversation, transcript_settings,
                             two_turn_messages)

pytestmark = pytest.mark.django_db


def export(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("export_transcripts", *args, stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_each_finished_turn_is_a_row_of_harmony_messages_with_its_context(make_user):
    first, second = stored_conversation(make_user("ada"))
    rows, err = export()
    assert [r["turn"] for r in rows] == [first.id, second.id]
    assert "exported 2 turn(s) as harmony rows" in err
    row = rows[1]
    assert {k: row[k] for k in ("conversation", "user", "model", "effort", "status", "title")} == {
        "conversation": second.conversation_id, "user": "ada", "model": "gpt-oss-nano",
        "effort": "low", "status": "completed", "title": "Sums"}
    assert row["settings"] == {"temperature": 0.7, "top_p": 0.9, "max_output_tokens": 512, "seed": 7}
    system, developer, *body = row["messages"]
    assert system["role"] == "system" and system["content"][0]["reasoning_effort"] == "Low"
    assert system["content"][0]["conversation_start_date"] == "2026-03-01"
    assert developer["content"][0]["instructions"] == "Answer briefly."
    tools = developer["content"][0]["tools"]["functions"]["tools"]
    assert [t["name"] for t in tools] == ["calculator", "lookup"]
    texts = [m["content"][0]["text"] for m in body]
    # the first turn's analysis is gone from the second's context; the tool round is there
    assert texts == ["Hi", "Hello!", "What is 2+2?", "Use the calculator.", '{"expression": "2+2"}',
                     "4", "It is 4."]
    assert body[4]["recipient"] == "functions.calculator" and body[5]["name"] == "functions.calculator"
    assert [m["content"][0]["text"] for m in rows[0]["messages"][2:]] == ["Hi", "Greet back.", "Hello!"]


def test_tokens_rows_carry_the_rendering_and_a_same_length_loss_mask(make_user):
    stored_conversation(make_user("ada"))
    rows, _ = export("--format", "tokens")
    row = rows[1]
    assert "messages" not in row
    assert row["tokens"] == harmony.render_training(two_turn_messages(), transcript_settings())
    assert len(row["loss_mask"]) == len(row["tokens"])
    trained = harmony.decode([t for t, m in zip(row["tokens"], row["loss_mask"]) if m])
    assert trained.startswith("<|channel|>analysis<|message|>Use the calculator.")
    assert trained.endswith("<|channel|>final<|message|>It is 4.<|return|>")


def test_filters_pick_turns_by_user_date_model_and_effort(make_user):
    ada = stored_conversation(make_user("ada"))
    bob = stored_conversation(make_user("bob"), turns=[("Hi", [])], model="gpt-oss-20b", effort="high")
    Turn.objects.filter(id=ada[0].id).update(queued_at="2026-03-01T10:00:00Z")
    Turn.objects.filter(id__in=[ada[1].id, bob[0].id]).update(queued_at="2026-03-05T10:00:00Z")

    def ids(*args):
        return [r["turn"] for r in export(*args)[0]]

    assert ids("--user", "bob") == [bob[0].id]
    assert ids("--since", "2026-03-02") == [ada[1].id, bob[0].id]
    assert ids("--since", "2026-03-05T11:00:00+00:00") == []
    assert ids("--model", "gpt-oss-nano") == [ada[0].id, ada[1].id]
    assert ids("--effort", "high") == [bob[0].id]
    assert ids("--user", "ada", "--since", "2026-03-02") == [ada[1].id]


def test_unfinished_turns_are_not_exported(make_user):
    first, second = stored_conversation(make_user("ada"))
    Turn.objects.filter(id=second.id).update(status="running")
    assert [r["turn"] for r in export()[0]] == [first.id]


@pytest.mark.parametrize("args, message", [
    (("--user", "nobody"), "--user: there is no user 'nobody'"),
    (("--since", "yesterday"), "--since 'yesterday' is not a date (YYYY-MM-DD) or an ISO date-time"),
    (("--since", "2026-02-30"), "--since '2026-02-30' is not a date"),
    (("--effort", "extreme"), "--effort must be one of low, medium, high, got 'extreme'"),
    (("--format", "csv"), "--format must be one of harmony, tokens, got 'csv'"),
])
def test_bad_arguments_are_refused_saying_which(args, message, make_user):
    make_user("ada")
    with pytest.raises(CommandError) as refused:
        export(*args)
    assert message in str(refused.value)


def test_a_turn_that_cannot_be_rendered_is_named_and_the_rest_exported(make_user):
    first, second = stored_conversation(make_user("ada"))
    Turn.objects.filter(id=first.id).update(settings={**first.settings, "builtin_tools": ["browser"]})
    rows, err = export()
    assert [r["turn"] for r in rows] == [second.id]
    assert f"turn {first.id} left out: unknown built-in tool 'browser'" in err
    assert "exported 1 turn(s) as harmony rows, left out 1" in err


def test_lint_clean_exports_only_completed_turns_whose_lint_found_nothing(make_user):
    clean, flagged = stored_conversation(make_user("ada"))
    unlinted = stored_conversation(make_user("bob"), turns=[("Hi", [])])[0]
    # cut off from outside, so spared the ending checks: clean as far as they went
    cut_short = stored_conversation(make_user("cy"), status="cancelled", lint=[],
                                    turns=[("Stop", TWO_TURNS[0][1][:1])])[0]  # analysis only
    never_ran = stored_conversation(make_user("di"), status="cancelled", lint=[],
                                    turns=[("Hi", [])])[0]  # cancelled while queued: nothing to lint
    Turn.objects.filter(id=clean.id).update(lint=[])
    Turn.objects.filter(id=flagged.id).update(lint=[lint_finding("no_final")])
    assert unlinted.lint is None
    assert [r["turn"] for r in export("--lint-clean")[0]] == [clean.id]
    assert {cut_short.id, never_ran.id} <= {r["turn"] for r in export()[0]}  # without --lint-clean
