"""Transcripts are evidence: in the admin, conversations, comparisons, turns and messages can be viewed but
never added, changed or deleted, by a staff user holding every permission or by a superuser,
whether through their pages (GET and POST), the bulk delete action or the inlines."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from webapp.chat.models import Comparison, Conversation, Message, Turn

pytestmark = pytest.mark.django_db


def staff_with_every_permission():
    user = get_user_model().objects.create_user("staff", password="pw-staff-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    assert user.has_perm("chat.change_message") and user.has_perm("chat.delete_turn")
    return user


def superuser():
    return get_user_model().objects.create_superuser("root", password="pw-root-1234")


@pytest.fixture(params=[staff_with_every_permission, superuser], ids=["staff", "superuser"])
def client(request):
    client = Client()
    client.force_login(request.param())
    return client


@pytest.fixture
def transcript(make_user):
    conversation = Conversation.objects.create(user=make_user("ada"), title="Sums")
    comparison = Comparison.objects.create(conversation=conversation)
    turn = Turn.objects.create(conversation=conversation, user_text="What is 12 * 34?",
                               effort="low", status="completed", model="gpt-oss-nano", lint=[],
                               comparison=comparison)
    message = Message.objects.create(turn=turn, index=0, role="assistant", channel="final",
                                     text="408", tokens=2)
    return {"conversation": conversation, "comparison": comparison, "turn": turn,
            "message": message}


def snapshot():
    return (list(Conversation.objects.values()), list(Comparison.objects.values()),
            list(Turn.objects.values()), list(Message.objects.values()))


FORGED = {"title": "forged", "user_text": "forged", "text": "forged", "index": "9", "role": "user",
          "effort": "high", "status": "failed", "tokens": "1"}


@pytest.mark.parametrize("name", ["conversation", "comparison", "turn", "message"])
def test_a_transcript_can_be_viewed_but_not_added_changed_or_deleted(client, transcript, name):
    obj = transcript[name]
    base = f"/admin/chat/{name}/"
    before = snapshot()

    listing = client.get(base)
    assert listing.status_code == 200
    assert f'href="{base}add/"' not in listing.content.decode()
    page = client.get(f"{base}{obj.pk}/change/")
    assert page.status_code == 200, "viewing still works"
    html = page.content.decode()
    assert 'name="_save"' not in html and f'href="{base}{obj.pk}/delete/"' not in html

    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}add/", FORGED).status_code == 403
    assert client.post(f"{base}{obj.pk}/change/", FORGED).status_code == 403
    assert client.get(f"{base}{obj.pk}/delete/").status_code == 403
    assert client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = client.post(base, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)
    assert snapshot() == before, "nothing was added, changed or deleted"


def test_inlines_offer_no_adding_editing_or_deleting(client, transcript):
    conversation_page = client.get(f"/admin/chat/conversation/{transcript['conversation'].pk}/change/")
    comparison_page = client.get(f"/admin/chat/comparison/{transcript['comparison'].pk}/change/")
    turn_page = client.get(f"/admin/chat/turn/{transcript['turn'].pk}/change/")
    for page in (conversation_page, comparison_page, turn_page):
        html = page.content.decode()
        assert page.status_code == 200
        assert "add-row" not in html and "-DELETE" not in html
        assert '<textarea' not in html and 'type="text"' not in html
    for page in (conversation_page, comparison_page):
        assert f"/admin/chat/turn/{transcript['turn'].pk}/change/" in page.content.decode()
    assert "408" in turn_page.content.decode()
