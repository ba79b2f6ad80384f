"""`manage.py import_transcripts FILE --user NAME` reads harmony rows back as that user's
conversations: export → import → export gives the same messages, settings (tools, developer
instructions, effort, date) included; a bad line is named and nothing is imported."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from webapp.chat.models import Conversation, Message, Turn
from tests.factories import TRANSCRIPT_SETTINGS, stored_conversation

pytestmark = pytest.mark.django_db


def export(*args):
    out = io.StringIO()
    call_command("export_transcripts", *args, stdout=out, stderr=io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


def import_file(tmp_path, rows, user="bob"):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    out = io.StringIO()
    call_command("import_transcripts", str(path), "--user", user, stdout=out)
    return out.getvalue()


def test_export_import_export_gives_the_same_messages(tmp_path, make_user):
    stored_conversation(make_user("ada"))
    make_user("bob")
    before = export("--user", "ada")
    assert import_file(tmp_path, before) == "imported 2 turn(s) in 1 conversation(s) for bob\n"
    after = export("--user", "bob")
    assert [r["messages"] for r in after] == [r["messages"] for r in before]
    keep = ("title", "model", "effort", "status", "settings")
    assert [{k: r[k] for k in keep} for r in after] == [{k: r[k] for k in keep} for r in before]


def test_imported_turns_keep_their_settings_tools_and_messages(tmp_path, make_user):
    stored_conversation(make_user("ada"))
    make_user("bob")
    import_file(tmp_path, export())
    conversation = Conversation.objects.get(user__username="bob")
    assert conversation.created_at.date().isoformat() == "2026-03-01"
    first, second = conversation.turns.order_by("id")
    assert (first.user_text, second.user_text) == ("Hi", "What is 2+2?")
    assert second.settings == TRANSCRIPT_SETTINGS
    assert [(m.role, m.channel, m.recipient) for m in second.messages.all()] == [
        ("assistant", "analysis", None), ("assistant", "commentary", "functions.calculator"),
        ("tool", "commentary", "assistant"), ("assistant", "final", None)]


def test_a_regeneration_stays_a_regeneration_of_its_imported_original(tmp_path, make_user):
    first, second = stored_conversation(make_user("ada"))
    again = Turn.objects.create(conversation=first.conversation, user_text=second.user_text,
                                effort="low", status="completed", settings=TRANSCRIPT_SETTINGS,
                                regenerated_from=second)
    Message.objects.create(turn=again, index=0, role="assistant", channel="final", text="Four.")
    make_user("bob")
    before = export("--user", "ada")
    import_file(tmp_path, before)
    after = export("--user", "bob")
    assert [r["messages"] for r in after] == [r["messages"] for r in before]
    imported = Turn.objects.filter(conversation__user__username="bob").order_by("id")
    assert imported[2].regenerated_from_id == imported[1].id
    assert len({t.conversation_id for t in imported}) == 1


def test_a_turn_exported_without_its_earlier_turns_brings_its_history_along(tmp_path, make_user):
    first, second = stored_conversation(make_user("ada"))
    make_user("bob")
    [row] = [r for r in export() if r["turn"] == second.id]
    import_file(tmp_path, [row])
    imported = Turn.objects.filter(conversation__user__username="bob").order_by("id")
    assert [t.user_text for t in imported] == ["Hi", "What is 2+2?"]
    assert [r["messages"] for r in export("--user", "bob")][1] == row["messages"]


@pytest.mark.parametrize("bad, message", [
    ("{not json", "line 2: not JSON"),
    ('{"tokens": [1, 2], "loss_mask": [0, 1]}', "line 2: not a harmony row"),
    ('{"messages": []}', "line 2: `messages` must be a non-empty list"),
    ('{"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}',
     "line 2: message 0 must be the system message"),
])
def test_a_bad_line_is_named_and_nothing_is_imported(bad, message, tmp_path, make_user):
    stored_conversation(make_user("ada"))
    make_user("bob")
    good = export()
    with pytest.raises(CommandError) as refused:
        import_file(tmp_path, [good[0], bad, good[1]])
    assert message in str(refused.value) and "nothing was imported" in str(refused.value)
    assert not Turn.objects.filter(conversation__user__username="bob").exists()
    assert not Conversation.objects.filter(user__username="bob").exists()


def test_a_row_this_server_would_render_differently_is_refused(tmp_path, make_user):
    stored_conversation(make_user("ada"))
    make_user("bob")
    rows = export()
    rows[1]["messages"][0]["content"][0]["model_identity"] = "You are another model."
    with pytest.raises(CommandError) as refused:
        import_file(tmp_path, rows)
    assert "line 2: message 0 is not what this server renders from it" in str(refused.value)
    assert not Turn.objects.filter(conversation__user__username="bob").exists()


def test_bad_settings_and_unknown_users_are_refused(tmp_path, make_user):
    stored_conversation(make_user("ada"))
    make_user("bob")
    rows = export()
    rows[0]["settings"]["temperature"] = 9
    with pytest.raises(CommandError, match="line 1: settings.temperature must be a number from 0 to 2"):
        import_file(tmp_path, rows)
    with pytest.raises(CommandError, match="--user: there is no user 'nobody'"):
        import_file(tmp_path, export(), user="nobody")


def test_head_messages_of_the_wrong_kind_are_refused(tmp_path, make_user):
    stored_conversation(make_user("ada"))
    make_user("bob")
    rows = export()
    rows[0]["messages"][0]["content"] = []
    rows[1]["messages"][1]["content"] = [{"type": "text", "text": "be nice"}]
    for row, message in ((rows[0], "line 1: message 0 must be the system message"),
                         (rows[1], "line 1: message 1, the developer message, must hold developer content")):
        with pytest.raises(CommandError, match=message):
            import_file(tmp_path, [row])
