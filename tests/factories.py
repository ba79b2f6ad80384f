"""Plain factories shared by the web app's tests."""


def stored_turn(user, request_id="r1", user_text="Hi", effort="low", **fields):
    """A turn in a new conversation of `user`, as the consumer stores it (queued unless told)."""
    from webapp.chat.models import Conversation, Turn

    conversation = Conversation.objects.create(user=user, title="t")
    return Turn.objects.create(conversation=conversation, request_id=request_id,
                               user_text=user_text, effort=effort, **fields)
