"""The chat pages and the read API: login required, each user sees only their own
conversations (someone else's is a 404), stored turns are embedded as protocol frames."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from webapp.chat.models import Conversation, Message, Turn

pytestmark = pytest.mark.django_db


def user(name):
    return get_user_model().objects.create_user(username=name, password="pw-" + name)


def logged_in(u) -> Client:
    client = Client()
    client.force_login(u)
    return client


def conversation_with_turn(owner, text="What is 12 * 34?", answer="**408**"):
    conversation = Conversation.objects.create(user=owner, title=text)
    turn = Turn.objects.create(conversation=conversation, request_id="r", user_text=text,
                               effort="high", status="completed", metrics={"total_ms": 5.0})
    Message.objects.create(turn=turn, index=0, role="assistant", channel="final", text=answer,
                           tokens=2)
    return conversation, turn


def page_data(response) -> dict:
    html = response.content.decode()
    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page embeds its data with json_script"
    return json.loads(found.group(1))


def test_anonymous_visitor_is_sent_to_login():
    for url in ["/", "/c/1/", "/api/conversations/", "/api/conversations/1/", "/api/turns/1/"]:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/accounts/login/"), url


def test_login_page_signs_in_and_lands_on_the_chat():
    user("ada")
    client = Client()
    assert b'name="username"' in client.get("/accounts/login/").content
    response = client.post("/accounts/login/", {"username": "ada", "password": "pw-ada", "next": "/"})
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/").status_code == 200


def test_chat_page_embeds_the_stored_turns_as_frames():
    ada = user("ada")
    conversation, turn = conversation_with_turn(ada)

    response = logged_in(ada).get(f"/c/{conversation.id}/")

    assert response.status_code == 200
    data = page_data(response)
    assert data["efforts"] == ["low", "medium", "high"]
    [stored] = data["conversation"]["turns"]
    assert stored["turn_id"] == turn.id and stored["user_text"] == "What is 12 * 34?"
    types = [f["type"] for f in stored["frames"]]
    assert types == ["turn.queued", "message.start", "message.delta", "message.end", "turn.done"]


def test_sidebar_lists_only_the_users_own_conversations():
    ada, bob = user("ada"), user("bob")
    conversation_with_turn(ada, text="Ada's question")
    conversation_with_turn(bob, text="Bob's question")

    html = logged_in(ada).get("/").content.decode()
    assert "Ada&#x27;s question" in html and "Bob" not in html

    listed = logged_in(ada).get("/api/conversations/").json()["conversations"]
    assert [c["title"] for c in listed] == ["Ada's question"]


def test_another_users_conversation_and_turn_are_not_found():
    ada, bob = user("ada"), user("bob")
    conversation, turn = conversation_with_turn(bob)
    client = logged_in(ada)
    for url in [f"/c/{conversation.id}/", f"/api/conversations/{conversation.id}/",
                f"/api/turns/{turn.id}/"]:
        assert client.get(url).status_code == 404, url
    assert logged_in(bob).get(f"/api/turns/{turn.id}/").status_code == 200


def test_model_text_cannot_break_out_of_the_embedded_json():
    ada = user("ada")
    conversation, _ = conversation_with_turn(ada, answer="</script><script>alert(1)</script>")

    response = logged_in(ada).get(f"/c/{conversation.id}/")

    assert b"<script>alert(1)" not in response.content
    frames = page_data(response)["conversation"]["turns"][0]["frames"]
    assert frames[2]["text"] == "</script><script>alert(1)</script>"


def test_conversation_api_returns_turns_in_order():
    ada = user("ada")
    conversation, first = conversation_with_turn(ada)
    second = Turn.objects.create(conversation=conversation, request_id="r2", user_text="again",
                                 effort="low", status="cancelled", regenerated_from=first)

    data = logged_in(ada).get(f"/api/conversations/{conversation.id}/").json()

    assert [t["turn_id"] for t in data["turns"]] == [first.id, second.id]
    assert data["turns"][1]["regenerated_from"] == first.id
    assert data["turns"][1]["frames"][-1]["status"] == "cancelled"


def test_api_refuses_other_methods():
    ada = user("ada")
    conversation, _ = conversation_with_turn(ada)
    assert logged_in(ada).post(f"/api/conversations/{conversation.id}/").status_code == 405


def test_conversation_api_queries_do_not_grow_with_its_turns(django_assert_max_num_queries):
    ada = user("ada")
    conversation, _ = conversation_with_turn(ada)
    for i in range(5):
        turn = Turn.objects.create(conversation=conversation, request_id=f"r{i}", user_text="q",
                                   effort="low", status="completed")
        Message.objects.create(turn=turn, index=0, role="assistant", channel="final", text="a")
    client = logged_in(ada)
    with django_assert_max_num_queries(6):  # session, user, conversation, turns, messages
        assert len(client.get(f"/api/conversations/{conversation.id}/").json()["turns"]) == 6
