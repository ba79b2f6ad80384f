"""The turn admin's action "Export selected turns" downloads the selected finished turns as
harmony JSONL, the rows `export_transcripts` writes; unfinished ones are left out, saying so."""

import io
import json

import pytest
from django.core.management import call_command

from webapp.chat.models import Turn
from tests.factories import stored_conversation

pytestmark = pytest.mark.django_db


def select(client, *turns):
    return client.post("/admin/chat/turn/", {"action": "export_harmony",
                                              "_selected_action": [t.id for t in turns]})


def test_the_selected_turns_download_as_the_commands_harmony_rows(staff_client, make_user):
    first, second = stored_conversation(make_user("ada"))
    stored_conversation(make_user("bob"))  # not selected
    response = select(staff_client, second)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="turns.jsonl"'
    rows = [json.loads(line) for line in response.content.decode().splitlines()]
    out = io.StringIO()
    call_command("export_transcripts", "--user", "ada", stdout=out, stderr=io.StringIO())
    assert rows == [json.loads(out.getvalue().splitlines()[1])]
    assert rows[0]["turn"] == second.id


def test_unfinished_selected_turns_are_left_out_saying_so(staff_client, make_user):
    first, second = stored_conversation(make_user("ada"))
    Turn.objects.filter(id=second.id).update(status="running")
    response = select(staff_client, first, second)
    assert [json.loads(line)["turn"] for line in response.content.decode().splitlines()] == [first.id]
    page = staff_client.get("/admin/chat/turn/").content.decode()
    assert "Left out of the export: 1 unfinished turn(s)" in page
