"""exmech's own app under its former server, gunicorn (gthread), for bench/run.py's comparison.

The settings are the ones exmech.server used before waitress (one worker, gthread, the
same thread count). The store must be built beforehand: it is opened in the worker.

    EXMECH_STATE_DIR=... EXMECH_PORT=8002 .venv/bin/python bench/gunicorn_exmech.py
"""

from __future__ import annotations

from typing import Any

from exmech.settings import Settings
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": f"{self.settings.host}:{self.settings.port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": self.settings.threads,
            "timeout": int(self.settings.query_timeout) + 30,
            "graceful_timeout": 5,
            "accesslog": None,
            "loglevel": "warning",
            "control_socket_disable": True,
            "limit_request_line": 8190,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from exmech.app import create_app

        return create_app(self.settings)


if __name__ == "__main__":
    _Gunicorn(Settings.load()).run()
