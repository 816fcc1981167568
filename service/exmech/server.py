"""Run the app under gunicorn: one process (the store's single writer), many threads."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from exmech.settings import Settings


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
            "loglevel": "info",
            "control_socket_disable": True,
            # The longest request line gunicorn can take (0 would mean unbounded); longer
            # GET queries get 414 and are sent with POST, where EXMECH_MAX_QUERY_BYTES rules.
            "limit_request_line": 8190,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from exmech.app import create_app

        return create_app(self.settings)


def run(settings: Settings) -> None:
    """Build the store if needed, then serve until stopped (SIGTERM / Ctrl-C)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from exmech.store.embedded import EmbeddedStore

    if settings.store == "embedded" and not (settings.state_dir / "CURRENT").exists():
        EmbeddedStore(settings, workers=False).close()
    _Gunicorn(settings).run()
