from django.urls import path

from . import usage, views

app_name = "chat"

urlpatterns = [
    path("", views.chat, name="home"),
    path("c/<int:conversation_id>/", views.chat, name="conversation"),
    path("api/conversations/", views.conversations_api, name="conversations-api"),
    path("api/conversations/<int:conversation_id>/", views.conversation_api,
         name="conversation-api"),
    path("api/turns/<int:turn_id>/", views.turn_api, name="turn-api"),
    path("api/turns/<int:turn_id>/timeline/", views.turn_timeline_api, name="turn-timeline-api"),
    path("api/turns/<int:turn_id>/code/", views.turn_code_api, name="turn-code-api"),
    path("turns/<int:turn_id>/tokens/", views.turn_tokens, name="turn-tokens"),
    path("tokenizer/", views.tokenizer, name="tokenizer"),
    path("api/tokenize/", views.tokenize_api, name="tokenize-api"),
    path("usage/", usage.usage, name="usage"),
]
