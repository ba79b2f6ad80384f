from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "webapp.chat"
    label = "chat"
    verbose_name = "Chat transcripts"
    default_auto_field = "django.db.models.BigAutoField"
