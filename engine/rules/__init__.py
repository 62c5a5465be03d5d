"""Rule engine: reactions to ticket events. Importing it registers its reactors and channels."""

from engine.rules import call, webhooks

__all__ = ["call", "webhooks"]
