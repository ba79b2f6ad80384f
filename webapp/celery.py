"""The Celery app. Workers consume the `gpu` queue:

    celery -A webapp worker -Q gpu --loglevel=INFO

The pool and its size come from the settings (CELERY_WORKER_POOL, CELERY_WORKER_CONCURRENCY):
threads in the worker's own process, one per turn slot, so the model is loaded once, before
the worker takes turns, and never forked after CUDA is initialised (celery #3402). The
transformers engine gets one slot; vLLM gets GPTOSS_MAX_TURNS and batches them. Late acks and
a prefetch of one per slot mean a dying worker's turns are not silently lost, and no worker
hoards turns others could run; the task itself refuses to run a turn twice
(webapp/chat/turns.py `claim`).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["webapp.chat"])
