"""The Celery app. Workers consume the `gpu` queue, one turn at a time per process:

    celery -A webapp worker -Q gpu --pool=solo --concurrency=1

`--pool=solo` runs tasks in the worker's own process, so the model is loaded once, after
start, and never forked after CUDA is initialised (celery #3402). Late acks and a prefetch of
one mean a dying worker's turn is not silently lost, and no worker hoards turns others could
run; the task itself refuses to run a turn twice (`turns.claim` in webapp/chat/turns.py).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["webapp.chat"])
