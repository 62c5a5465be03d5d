"""Serving with gunicorn (a real WSGI server), started from `gongdan serve`."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):
    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from server.app import create_app

        return create_app()


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 2) -> None:
    GunicornServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "accesslog": "-",
            "timeout": 60,
            "child_exit": _child_exit,  # PROMETHEUS_MULTIPROC_DIR: forget a dead worker's gauges
        }
    ).run()


def _child_exit(server: Any, worker: Any) -> None:
    from engine.observability import mark_process_dead

    mark_process_dead(worker.pid)


def application():  # pragma: no cover - for `gunicorn 'server.wsgi:application()'`
    from server.app import create_app

    return create_app()
