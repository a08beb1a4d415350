"""Where the server keeps its data, read from the environment without side effects: the settings
and the `studio` command both start from here (the settings then create what is missing)."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("STUDIO_DATA_DIR", "").strip() or BASE_DIR / "data").resolve()


def database_url() -> str:
    return os.environ.get("DATABASE_URL", "").strip() or f"sqlite:///{data_dir() / 'studio.sqlite3'}"
