"""ASGI entry point for servers (``uvicorn services.asgi:app``); settings from the environment."""

from __future__ import annotations

import sys

from services.app import create_app
from services.config import ConfigError, load_settings

try:
    app = create_app(load_settings())
except ConfigError as exc:
    print(f"configuration error: {exc}", file=sys.stderr)
    sys.exit(2)
