"""Staff inspect stored turns in the admin: the list filters by status, effort, model and
user; a turn's page shows its messages per channel, the raw harmony text decoded from the
token ids, and its metrics. Turns are never added by hand."""

import html

import pytest

from inference import harmony
from webapp.chat.models import Conversation, Message, Turn

pytestmark = pytest.mark.django_db

CALL_TEXT = '{"expression": "12 * 34"}'
# What the model generated for that message: its header, the special tokens and the stop token
# around the text the parser stored. The raw view must show this, not the stored text.
CALL_HARMONY = ("<|channel|>commentary to=functions.calculator <|constrain|>json<|message|>"
                + CALL_TEXT + "<|call|>")


@pytest.fixture
def turn(make_user):
    conversation = Conversation.objects.create(user=make_user("ada"), title="Sums")
    turn = Turn.objects.create(conversation=conversation, request_id="r", user_text="What is 12 * 34?",
                               effort="high", status="completed", model="gpt-oss-nano",
                               metrics={"total_ms": 812.5, "output_tokens": 42})
    Message.objects.create(turn=turn, index=0, role="assistant", channel="analysis",
                           text="Multiply <b>them</b>.", tokens=4)
    Message.objects.create(turn=turn, index=1, role="assistant", channel="commentary",
                           recipient="functions.calculator", text=CALL_TEXT, call_id="call_1_1",
                           token_ids=harmony.encode(CALL_HARMONY), tokens=8)
    Message.objects.create(turn=turn, index=2, role="tool", author="functions.calculator",
                           channel="commentary", recipient="assistant", text="408",
                           call_id="call_1_1", tool_ms=0.2, tokens=1)
    Message.objects.create(turn=turn, index=3, role="assistant", channel="final", text="**408**",
                           tokens=3)
    return turn


def test_turn_list_filters_by_status_effort_model_and_user(staff_client, turn, make_user):
    other = Conversation.objects.create(user=make_user("bob"), title="Other")
    Turn.objects.create(conversation=other, user_text="Bob's question", effort="low",
                        status="failed", model="gpt-oss-20b")
    page = staff_client.get("/admin/chat/turn/").content.decode()
    for title in ("status", "effort", "model", "user"):
        assert f"By {title}" in page
    assert "What is 12 * 34?" in page
    assert staff_client.get("/admin/chat/turn/?status__exact=completed&effort__exact=high"
                            ).status_code == 200
    failed = staff_client.get("/admin/chat/turn/?status__exact=failed").content.decode()
    assert "What is 12 * 34?" not in failed and "Bob&#x27;s question" in failed
    by_user = staff_client.get(f"/admin/chat/turn/?conversation__user__id__exact={turn.conversation.user_id}")
    assert "Bob" not in by_user.content.decode().split("<tbody>")[1]


def raw_harmony_field(page: str) -> str:
    """The HTML of the turn page's "Raw harmony (decoded token ids)" field alone."""
    return page.split('class="form-row field-harmony_view"', 1)[1].split("</details>", 1)[0]


def test_turn_page_shows_channels_raw_harmony_decoded_from_token_ids_and_metrics(staff_client, turn):
    page = staff_client.get(f"/admin/chat/turn/{turn.id}/change/").content.decode()
    assert page.index(">analysis<") < page.index(">commentary<") < page.index(">final<")
    assert "tool answers" in page and "→ functions.calculator" in page
    assert "Multiply &lt;b&gt;them&lt;/b&gt;." in page, "model output is escaped"
    assert "812.5" in page and "time_to_final_ms" in page

    raw = raw_harmony_field(page)
    ids = harmony.encode(CALL_HARMONY)
    # the call's stored ids, decoded with their special tokens (escaped): header, text, stop
    # token — what the model generated, which the stored text alone does not hold
    assert f"#1 · {len(ids)} ids" in raw
    assert html.escape(CALL_HARMONY) in raw
    assert html.escape(CALL_HARMONY) not in page.replace(raw, ""), "only the raw view decodes"
    # the three messages without ids say so, rather than showing their stored text
    assert raw.count("(no token ids stored)") == 3
    assert "Multiply" not in raw and "408" not in raw


def test_turns_cannot_be_added_by_hand(staff_client):
    # a superuser, who can open the admin's other pages: the refusal is the turn admin's own
    assert staff_client.get("/admin/chat/turn/").status_code == 200
    assert staff_client.get("/admin/chat/turn/add/").status_code == 403
    assert staff_client.post("/admin/chat/turn/add/", {"user_text": "forged"}).status_code == 403
    assert 'href="/admin/chat/turn/add/"' not in staff_client.get("/admin/chat/turn/").content.decode()
    assert staff_client.get("/admin/chat/message/add/").status_code == 403
    assert not Turn.objects.exists() and not Message.objects.exists()
