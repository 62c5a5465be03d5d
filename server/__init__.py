"""The web layer: parse the request, call the Runtime, render the result. No business rules here."""

from server.app import create_app

__all__ = ["create_app"]
