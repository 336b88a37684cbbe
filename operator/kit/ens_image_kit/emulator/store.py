"""SQLite persistence of the emulator's world, written through on every change."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from ens_image_kit.emulator.images import Image

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (image_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, body TEXT NOT NULL);
"""


class SqliteStore:
    """Images and a few named settings as JSON rows in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.executescript(_SCHEMA)

    def load_images(self) -> list[Image]:
        """Every stored image, deleted ones included."""
        rows = self._db.execute("SELECT body FROM images").fetchall()
        return [Image.from_dict(json.loads(body)) for (body,) in rows]

    def load_settings(self) -> dict[str, Any]:
        """All stored settings by key."""
        rows = self._db.execute("SELECT key, body FROM settings").fetchall()
        return {key: json.loads(body) for key, body in rows}

    def put_image(self, image: Image) -> None:
        """Insert or replace one image."""
        self._db.execute(
            "INSERT OR REPLACE INTO images (image_id, body) VALUES (?, ?)",
            (image.image_id, json.dumps(image.to_dict())),
        )

    def put_setting(self, key: str, value: Any) -> None:
        """Insert or replace one setting."""
        self._db.execute(
            "INSERT OR REPLACE INTO settings (key, body) VALUES (?, ?)", (key, json.dumps(value))
        )

    def clear_images(self) -> None:
        """Forget every image."""
        self._db.execute("DELETE FROM images")

    def close(self) -> None:
        """Release the file."""
        self._db.close()
