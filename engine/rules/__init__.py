"""Rule engine: reactions to ticket events. Importing it registers its reactors."""

from engine.rules import webhooks

__all__ = ["webhooks"]
