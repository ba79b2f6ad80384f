"""Storage of conversations, turns and their harmony messages.

A turn's row is the truth about it: the worker writes each message as it ends and the turn
when it stops; the stream a browser sees is a view of the same data (docs/protocol.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from inference import events, harmony
from inference.harmony import EFFORTS

from .frames import harmony_settings

TITLE_CHARS = 80


class Conversation(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="conversations")
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-updated_at"])]

    def __str__(self):
        return self.title

    @staticmethod
    def title_for(text: str) -> str:
        line = " ".join(text.split())
        return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


class Comparison(models.Model):
    """One prompt run at every effort as a side experiment: its turns (Turn.comparison) share
    the user's text, history and settings, and none of them enters a later turn's history."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="comparisons")
    # the earlier turn whose prompt was compared (null: asked from the composer)
    source_turn = models.ForeignKey("Turn", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="comparisons_of")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"comparison {self.pk}"


class Turn(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        AWAITING = "awaiting"  # paused on a function call the client must answer
        COMPLETED = "completed"
        CANCELLED = "cancelled"
        FAILED = "failed"
        LENGTH = "length"

    FINISHED = (Status.COMPLETED, Status.CANCELLED, Status.FAILED, Status.LENGTH)
    # turns that ended with an answer (or were stopped): what later turns of the conversation see
    IN_HISTORY = (Status.COMPLETED, Status.LENGTH, Status.CANCELLED)

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    request_id = models.CharField(max_length=100, blank=True)
    user_text = models.TextField()
    effort = models.CharField(max_length=10, choices=[(e, e) for e in EFFORTS])
    settings = models.JSONField(default=dict, blank=True)  # turn.create's `settings`, validated
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    model = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=50, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    metrics = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)  # {code, message} as in turn.done
    # {call_id, name, arguments} while awaiting a client's tool.output; the output is added
    # here when it arrives, for the resume task to read
    pending_call = models.JSONField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=50, blank=True)
    # harmony conformance findings (inference/lint.py), [{code, message, index}], written when
    # the turn ends: null = not linted yet, [] = clean
    lint = models.JSONField(null=True, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)  # last queued: created or resumed
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    regenerated_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="regenerations")
    comparison = models.ForeignKey(Comparison, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="turns")

    class Meta:
        indexes = [models.Index(fields=["status", "queued_at"])]

    def __str__(self):
        return f"turn {self.pk} ({self.status}, {self.effort})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    def queue_position(self) -> int:
        """How many queued turns, of anyone, are ahead of this one (the queue is first in,
        first out; a resumed turn joins at its end)."""
        ahead = models.Q(queued_at__lt=self.queued_at) | models.Q(queued_at=self.queued_at,
                                                                 id__lt=self.id)
        return Turn.objects.filter(ahead, status=Turn.Status.QUEUED).count()

    def protocol_metrics(self, **known) -> dict:
        """Every protocol metric (docs/protocol.md: figures that do not apply are null): what
        was stored (at a pause, or when the turn ended), the turn's effort, model and device
        where the stored ones lack them, then `known`."""
        metrics = {key: None for key in events.METRIC_KEYS}
        metrics.update(self.metrics or {})
        metrics["effort"] = metrics["effort"] or self.effort
        metrics["model"] = metrics["model"] or self.model or None
        metrics["device"] = metrics["device"] or self.device or None
        metrics.update(known)
        return metrics

    def history_end(self) -> int:
        """The turn id before which the conversation's turns make this turn's history: a
        regeneration continues its original's, and a comparison's turn that of the turn it
        compares (or, asked from the composer, everything before it)."""
        source = self.comparison.source_turn if self.comparison_id else None
        if source is not None:
            return source.history_end()
        return self.regenerated_from_id or self.id

    def history(self) -> list[harmony.Msg]:
        """Earlier turns of the conversation that ended with an answer (or were stopped), each
        as its user message and stored messages; of a turn regenerated several times only the
        latest version counts, and a regeneration continues the history its original had.
        Comparisons' turns are side experiments: never part of a history."""
        earlier = list(self.conversation.turns.filter(id__lt=self.history_end(),
                                                      comparison__isnull=True).order_by("id"))
        parent = {t.id: t.regenerated_from_id for t in earlier}

        def root(turn_id):
            while parent.get(turn_id):
                turn_id = parent[turn_id]
            return turn_id

        latest = {}
        for t in earlier:
            if t.status in self.IN_HISTORY:
                latest[root(t.id)] = t
        kept = sorted(latest.values(), key=lambda t: t.id)
        stored = Message.objects.filter(turn__in=kept).order_by("turn_id", "index")
        by_turn = {}
        for m in stored:
            by_turn.setdefault(m.turn_id, []).append(m.as_msg())
        msgs = []
        for t in kept:
            msgs.append(harmony.Msg(role="user", text=t.user_text))
            msgs += by_turn.get(t.id, [])
        return msgs

    def rendered_settings(self) -> harmony.TurnSettings:
        """The renderer's settings of this turn, dated by its conversation's start (the date
        the system message gives the model)."""
        date = self.conversation.created_at.date().isoformat()
        return harmony_settings(self.effort, self.settings, date)

    def transcript(self) -> list[harmony.Msg]:
        """What the model saw and wrote, in the renderer's terms: the history, the user
        message, then the turn's own messages (tool answers included)."""
        own = [m.as_msg() for m in self.messages.order_by("index")]
        return self.history() + [harmony.Msg(role="user", text=self.user_text)] + own


class Message(models.Model):
    """One harmony message of a turn, as the model (or a tool) wrote it."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="messages")
    index = models.PositiveIntegerField()  # message.start's index: order within the turn
    role = models.CharField(max_length=20)  # one of the parser's roles, never longer
    # The header fields are the model's own words, any length (a tool name it made up, a
    # content type after <|constrain|>): text columns, so no header can fail the turn.
    author = models.TextField(blank=True, null=True)  # functions.x for tools
    channel = models.TextField(blank=True, null=True)
    recipient = models.TextField(blank=True, null=True)
    content_type = models.TextField(blank=True, null=True)
    text = models.TextField(blank=True)
    token_ids = models.JSONField(default=list, blank=True)
    tokens = models.PositiveIntegerField(default=0)
    call_id = models.CharField(max_length=100, blank=True, null=True)  # tool call and its answer
    tool_ms = models.FloatField(null=True, blank=True)  # server-run tool answers only

    class Meta:
        ordering = ["turn", "index"]
        constraints = [models.UniqueConstraint(fields=["turn", "index"], name="message_index")]

    def __str__(self):
        return f"{self.turn_id}#{self.index} {self.role}/{self.channel}"

    def as_msg(self) -> harmony.Msg:
        """The message as the renderer takes it."""
        return harmony.Msg(role=self.role, text=self.text, channel=self.channel,
                           recipient=self.recipient, content_type=self.content_type,
                           author=self.author)
