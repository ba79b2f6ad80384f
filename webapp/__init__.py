"""The Django side of the project: site, WebSocket consumer, Celery worker adapter."""

# `celery -A webapp` finds the app here, and @shared_task binds to it in every process.
from .celery import app as celery_app

__all__ = ["celery_app"]
