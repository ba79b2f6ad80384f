"""A stored turn's token timeline on the web: its owner reads it as JSON and as a page (others
get a 404, like every turn view), staff read any turn's from the admin (others are refused).
Turns stored by the real worker task (run in-process on a scripted engine that records its
prompts) are rebuilt exactly: a tool round, a later turn of the conversation (its history), a
turn paused on a builder's function and resumed."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from factories import WEATHER_TOOL, full_prompts
from scripted_engine import calculator_call, final_answer
from webapp.chat import tasks, turns
from webapp.chat.frames import TurnRequest
from webapp.chat.models import Conversation

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER_CALL = ("<|channel|>commentary to=functions.get_weather <|constrain|>json"
                '<|message|>{"city": "Paris"}<|call|>')


def run_turn_task(user, text, conversation_id=None, settings=None, resume_with=None):
    request = TurnRequest(request_id="r", conversation_id=conversation_id, text=text, effort="high",
                          settings={"builtin_tools": ["calculator"]} if settings is None else settings)
    turn, _ = turns.create_turn(user, request)
    tasks.execute(turn.id, "worker-1", resume=False)
    if resume_with is not None:
        turn.refresh_from_db()
        turns.accept_tool_output(user, turn.id, turn.pending_call["call_id"], resume_with)
        tasks.execute(turn.id, "worker-1", resume=True)
    turn.refresh_from_db()
    return turn


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def timeline_of(client, turn) -> dict:
    response = client.get(f"/api/turns/{turn.id}/timeline/")
    assert response.status_code == 200, response.content[:500]
    return response.json()


def test_the_owner_gets_the_exact_prompts_the_worker_gave_the_model(make_user, worker_engine):
    ada = make_user("ada")
    engine = worker_engine(calculator_call("12 * 34"), final_answer("408"))
    # begun on another day: its system message carries that day, today and later
    begun = Conversation.objects.create(user=ada, title="t", created_at=dt.datetime(
        2025, 1, 15, 23, 30, tzinfo=dt.timezone.utc))
    turn = run_turn_task(ada, "What is 12 * 34?", conversation_id=begun.id)
    data = timeline_of(client_of(ada), turn)

    assert full_prompts(data["rounds"]) == engine.prompts
    assert data["prompt_tokens"] == turn.metrics["prompt_tokens"] == data["counted"]["prompt_tokens"]
    assert data["completion_tokens"] == turn.metrics["output_tokens"]
    assert data["date"] == "2025-01-15"
    assert [r["tools"] for r in data["rounds"]] == [[], ["functions.calculator"]]
    assert data["code"]["prompt"].endswith("<|start|>functions.calculator to=assistant<|channel|>"
                                           "commentary<|message|>408<|end|><|start|>assistant")
    assert "ReasoningEffort.HIGH" in data["code"]["python"]
    code = client_of(ada).get(f"/api/turns/{turn.id}/code/")
    assert code.json() == data["code"], "Copy as code in the chat copies the same"


def test_a_later_turn_is_rebuilt_with_its_history(make_user, worker_engine):
    ada = make_user("ada")
    engine = worker_engine("<|channel|>analysis<|message|>Greet.<|end|><|start|>assistant"
                           + final_answer("Hello!"), final_answer("Bye!"))
    first = run_turn_task(ada, "Hi", settings={})
    second = run_turn_task(ada, "Bye", conversation_id=first.conversation_id, settings={})
    data = timeline_of(client_of(ada), second)
    assert full_prompts(data["rounds"]) == [engine.prompts[1]]
    shown = [(s["role"], s["channel"]) for s in data["rounds"][0]["spans"] if s["part"] == "prompt"]
    assert shown == [("system", None), ("user", None), ("assistant", "final"), ("user", None),
                     ("assistant", None)], "the earlier analysis is not given again"


def test_a_turn_paused_on_a_function_and_resumed_is_rebuilt(make_user, worker_engine):
    ada = make_user("ada")
    engine = worker_engine(WEATHER_CALL, final_answer("Sunny."))
    turn = run_turn_task(ada, "Weather in Paris?", settings={"tools": [WEATHER_TOOL]},
                         resume_with="sunny, 21 C")
    assert turn.status == "completed"
    data = timeline_of(client_of(ada), turn)
    assert full_prompts(data["rounds"]) == engine.prompts
    assert data["prompt_tokens"] == turn.metrics["prompt_tokens"]


def test_someone_else_gets_a_404_and_a_visitor_the_login(make_user, worker_engine):
    worker_engine(final_answer("Hello."))
    turn = run_turn_task(make_user("ada"), "Hi", settings={})
    bob = client_of(make_user("bob"))
    assert bob.get(f"/api/turns/{turn.id}/timeline/").status_code == 404
    assert bob.get(f"/turns/{turn.id}/tokens/").status_code == 404
    assert bob.get(f"/api/turns/{turn.id}/code/").status_code == 404
    visitor = Client().get(f"/api/turns/{turn.id}/timeline/")
    assert visitor.status_code == 302 and "/accounts/login/" in visitor["Location"]


def test_the_owner_page_loads_the_timeline_from_the_owner_api(make_user, worker_engine):
    worker_engine(final_answer("Hello."))
    ada = make_user("ada")
    turn = run_turn_task(ada, "Hi <b>there</b>", settings={})
    page = client_of(ada).get(f"/turns/{turn.id}/tokens/").content.decode()
    assert f'"source": "/api/turns/{turn.id}/timeline/"' in page
    assert "Hi &lt;b&gt;there&lt;/b&gt;" in page and f'href="/c/{turn.conversation_id}/"' in page


def test_a_turn_whose_tools_are_gone_says_why_it_cannot_be_rebuilt(make_user, worker_engine):
    worker_engine(final_answer("Hello."))
    ada = make_user("ada")
    turn = run_turn_task(ada, "Hi", settings={})
    turn.settings = {"builtin_tools": ["no_such_tool"]}
    turn.save(update_fields=["settings"])
    response = client_of(ada).get(f"/api/turns/{turn.id}/timeline/")
    assert response.status_code == 422 and "no_such_tool" in response.json()["error"]


def test_staff_read_any_turns_timeline_in_the_admin_and_others_are_refused(make_user, worker_engine):
    engine = worker_engine(calculator_call("2 + 2"), final_answer("4"))
    turn = run_turn_task(make_user("ada"), "2 + 2?")
    staff = client_of(get_user_model().objects.create_superuser("root", password="pw-root-1234"))

    change = staff.get(f"/admin/chat/turn/{turn.id}/change/").content.decode()
    assert f'href="/admin/chat/turn/{turn.id}/timeline/"' in change
    page = staff.get(f"/admin/chat/turn/{turn.id}/timeline/")
    assert page.status_code == 200
    assert f'"source": "/admin/chat/turn/{turn.id}/timeline.json"' in page.content.decode()
    data = staff.get(f"/admin/chat/turn/{turn.id}/timeline.json").json()
    assert full_prompts(data["rounds"]) == engine.prompts

    for refused in (client_of(make_user("bob")), Client()):  # not staff, not signed in
        for url in (f"/admin/chat/turn/{turn.id}/timeline/", f"/admin/chat/turn/{turn.id}/timeline.json"):
            response = refused.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
    clerk = make_user("clerk")
    clerk.is_staff = True  # staff, but not allowed to view turns
    clerk.save()
    assert client_of(clerk).get(f"/admin/chat/turn/{turn.id}/timeline.json").status_code == 403
