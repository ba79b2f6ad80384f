"""Admin inspection of stored transcripts: turns filtered by status, effort, model, user and
harmony lint; each turn's messages side by side per channel, the raw harmony text of its
tokens, its lint findings, its metrics and a link to its harmony token timeline (the chat's
page, for any turn). Transcripts are evidence: nobody, superusers included, adds, changes
or deletes them here."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from inference import events, harmony

from . import lint_admin, transcript_export, turn_timeline, usage_stats, views
from .models import Comparison, Conversation, Message, Turn


class ReadOnly:
    """Viewing only, for every user: a transcript is what the model and the user wrote."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TurnInline(ReadOnly, admin.TabularInline):
    model = Turn
    fields = ("id", "status", "effort", "model", "queued_at")
    readonly_fields = fields
    show_change_link = True
    extra = 0
    can_delete = False


@admin.register(Comparison)
class ComparisonAdmin(ReadOnly, admin.ModelAdmin):
    """One prompt at every effort: its turns side by side are in the chat; here, which they are."""

    list_display = ("id", "conversation", "user", "source_turn", "created_at")
    list_filter = (("conversation__user", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("conversation__user",)
    readonly_fields = ("conversation", "source_turn", "created_at")
    inlines = [TurnInline]

    @admin.display(description="user", ordering="conversation__user__username")
    def user(self, comparison):
        return comparison.conversation.user


@admin.register(Conversation)
class ConversationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "title", "user", "created_at", "updated_at")
    list_filter = ("user",)
    search_fields = ("title", "user__username")
    inlines = [TurnInline]


class MessageInline(ReadOnly, admin.TabularInline):
    model = Message
    fields = ("index", "role", "author", "channel", "recipient", "content_type", "text", "tokens",
              "call_id", "tool_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Turn)
class TurnAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "user", "status", "effort", "model", "device", "short_text",
                    "output_tokens", "total_ms", "lint_count", "queued_at")
    list_filter = ("status", "effort", "model", ("conversation__user", admin.RelatedOnlyFieldListFilter),
                   lint_admin.LintFilter)
    search_fields = ("user_text", "request_id", "conversation__user__username")
    date_hierarchy = "queued_at"
    list_select_related = ("conversation__user",)
    readonly_fields = ("conversation", "request_id", "user_text", "effort", "status", "model",
                       "device", "worker", "celery_task_id", "queued_at", "started_at",
                       "finished_at", "regenerated_from", "comparison", "error_view", "metrics_view",
                       "settings_view", "channels_view", "harmony_view", "lint_view",
                       "timeline_link")
    exclude = ("settings", "metrics", "error", "pending_call", "lint")
    fieldsets = (
        (None, {"fields": ("conversation", "user_text", "effort", "status", "error_view",
                           "regenerated_from", "comparison", "timeline_link")}),
        ("Harmony lint", {"fields": ("lint_view",)}),
        ("Messages by channel", {"fields": ("channels_view",)}),
        ("Metrics", {"fields": ("metrics_view", "model", "device", "worker", "queued_at",
                                "started_at", "finished_at")}),
        ("Request", {"fields": ("request_id", "settings_view", "celery_task_id")}),
        ("Raw harmony (decoded token ids)", {"classes": ("collapse",), "fields": ("harmony_view",)}),
    )
    inlines = [MessageInline]
    actions = ["export_harmony"]

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        listed = getattr(response, "context_data", {}).get("cl")
        if listed is not None:  # not on a redirect or an action's answer
            response.context_data["lint_summary"] = usage_stats.lint_by_model(listed.queryset)
        return response

    @admin.action(description="Export selected turns (harmony JSONL)")
    def export_harmony(self, request, queryset):
        """The selected finished turns as `export_transcripts` writes them, as a download."""
        lines, left_out = [], []
        unfinished = queryset.exclude(status__in=Turn.FINISHED).count()
        if unfinished:
            left_out.append(f"{unfinished} unfinished turn(s)")
        for turn, row, why in transcript_export.rows(transcript_export.exportable(queryset)):
            if row is None:
                left_out.append(f"turn {turn.id}: {why}")
            else:
                lines.append(json.dumps(row, ensure_ascii=False) + "\n")
        if left_out:  # shown on the next page the admin opens; the download goes ahead
            self.message_user(request, "Left out of the export: " + "; ".join(left_out), messages.WARNING)
        response = HttpResponse("".join(lines), content_type="application/jsonl; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="turns.jsonl"'
        return response

    def get_urls(self):
        own = [
            path("<int:turn_id>/timeline/", self.admin_site.admin_view(self.timeline_page),
                 name="chat_turn_timeline"),
            path("<int:turn_id>/timeline.json", self.admin_site.admin_view(self.timeline_api),
                 name="chat_turn_timeline_api"),
        ]
        return own + super().get_urls()

    def viewable_turn(self, request, turn_id) -> Turn:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Turn.objects.select_related("conversation"), pk=turn_id)

    def timeline_page(self, request, turn_id):
        turn = self.viewable_turn(request, turn_id)
        return views.timeline_page(request, turn, reverse("admin:chat_turn_timeline_api", args=[turn.id]),
                                   reverse("admin:chat_turn_change", args=[turn.id]),
                                   "Back to the turn in the admin")

    def timeline_api(self, request, turn_id):
        return turn_timeline.response(self.viewable_turn(request, turn_id))

    @admin.display(description="token timeline")
    def timeline_link(self, turn):
        return format_html('<a href="{}">The tokens the model was given and wrote, round by round</a>',
                          reverse("admin:chat_turn_timeline", args=[turn.id]))

    @admin.display(description="user", ordering="conversation__user__username")
    def user(self, turn):
        return turn.conversation.user

    @admin.display(description="text")
    def short_text(self, turn):
        return turn.user_text[:60]

    @admin.display(description="output tokens")
    def output_tokens(self, turn):
        return (turn.metrics or {}).get("output_tokens")

    @admin.display(description="total ms")
    def total_ms(self, turn):
        return (turn.metrics or {}).get("total_ms")

    @admin.display(description="lint")
    def lint_count(self, turn):
        if turn.lint is None:
            return "—"
        return f"{len(turn.lint)} finding{'s' * (len(turn.lint) != 1)}" if turn.lint else "clean"

    @admin.display(description="findings")
    def lint_view(self, turn):
        if turn.lint is None:
            return "not linted yet (manage.py lint_turns)"
        if not turn.lint:
            return "clean: no findings"
        return format_html("<table><tr><th>message</th><th>code</th><th>finding</th></tr>{}</table>",
                           format_html_join("", "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                                            ((f"#{f['index']}" if f.get("index") is not None else "turn",
                                              f.get("code"), f.get("message")) for f in turn.lint)))

    @admin.display(description="error")
    def error_view(self, turn):
        if not turn.error:
            return "—"
        return format_html("<strong>{}</strong>: {}", turn.error.get("code"), turn.error.get("message"))

    @admin.display(description="metrics")
    def metrics_view(self, turn):
        metrics = turn.metrics or {}
        keys = list(events.METRIC_KEYS) + sorted(set(metrics) - set(events.METRIC_KEYS))
        return format_html("<table>{}</table>", format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>",
            ((k, json.dumps(metrics.get(k))) for k in keys)))

    @admin.display(description="settings")
    def settings_view(self, turn):
        return format_html("<pre>{}</pre>", json.dumps(turn.settings, indent=2))

    @admin.display(description="channels")
    def channels_view(self, turn):
        """One column per channel (plus any other, e.g. `unparsed`, and tool answers), each
        message in order with its index, recipient and token count."""
        columns: dict[str, list[Message]] = {c: [] for c in events.CHANNELS}
        for m in turn.messages.all():
            name = "tool answers" if m.role == "tool" else (m.channel or "(none)")
            columns.setdefault(name, []).append(m)
        cells = format_html_join("", '<td style="vertical-align:top;min-width:14em">{}</td>', (
            (format_html_join("", "<div><small>#{} {} · {} tokens</small><pre style=\"white-space:"
                                  "pre-wrap\">{}</pre></div>",
                              ((m.index, f"→ {m.recipient}" if m.recipient else m.role, m.tokens,
                                m.text) for m in msgs)) or "—",)
            for msgs in columns.values()))
        heads = format_html_join("", "<th>{}</th>", ((name,) for name in columns))
        return format_html("<table><tr>{}</tr><tr>{}</tr></table>", heads, cells)

    @admin.display(description="harmony")
    def harmony_view(self, turn):
        """The model's own tokens, decoded with their special tokens: what it generated."""
        parts = []
        for m in turn.messages.all():
            text = harmony.decode(m.token_ids) if m.token_ids else "(no token ids stored)"
            parts.append((m.index, len(m.token_ids), text))
        return format_html_join("", "<div><small>#{} · {} ids</small><pre style=\"white-space:"
                                    "pre-wrap\">{}</pre></div>", parts) or "—"


@admin.register(Message)
class MessageAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("turn", "index", "role", "channel", "recipient", "tokens")
    list_filter = ("role", "channel")
    search_fields = ("text",)
    readonly_fields = ("turn", "index", "role", "author", "channel", "recipient", "content_type",
                       "text", "token_ids", "tokens", "call_id", "tool_ms")
