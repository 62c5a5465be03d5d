"""Outgoing webhooks declared in an app definition: matching events become outbox rows.

A row names its signing secret (``secret_ref``), never holds it: the worker reads the secret from the
write-only store when it delivers (engine.jobs.channels.send_webhook)."""

from __future__ import annotations

from engine.reactions import CommandContext, reactor

#: Event types a webhook may subscribe to: the Runtime's own event names.
WEBHOOK_EVENTS = frozenset(
    {"created", "updated", "field_changed", "stage_entered", "stage_left", "task_created", "task_completed",
     "comment_added", "closed"}
)  # fmt: skip


@reactor
def queue_webhooks(cmd: CommandContext) -> None:
    hooks = cmd.spec.app.webhooks
    if not hooks:
        return
    for hook in hooks:
        if hook.ticket_types and cmd.ticket_type not in hook.ticket_types:
            continue
        wanted = WEBHOOK_EVENTS.intersection(hook.events)
        for event in cmd.events:
            if event.type not in wanted:
                continue
            cmd.queue(
                "webhook",
                {
                    "url": hook.url,
                    "secret_ref": hook.secret_ref,
                    "body": {
                        "app": cmd.spec.key,
                        "ticket_type": cmd.ticket_type,
                        "ticket": {"id": cmd.record_id, "number": cmd.number},
                        "event": {"seq": event.seq, "type": event.type, "payload": event.payload},
                        "at": cmd.at.isoformat(),
                    },
                },
                idempotency_key=f"webhook:{hook.id}:{cmd.record_id}:{event.seq}",
            )
