"""The request cache: one sqlite file under RUN/cache/, keyed by a hash of (model, messages,
sampling params), so a rerun, a resumed crash or a second run folder pointed at the same cache
asks the model nothing it already answered.

Only real answers are stored (text the model produced, parseable or not); transport failures
are not, so a rerun asks again. WAL mode and a busy timeout let several worker processes share
one file; each process opens its own connection (sqlite connections do not survive a fork).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

CACHE_FILE = "requests.sqlite"


def request_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """
    >>> request_key("m", [{"role": "user", "content": "hi"}], {"temperature": 0}) == \\
    ...     request_key("m", [{"role": "user", "content": "hi"}], {"temperature": 0})
    True
    """
    payload = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True,
                         ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


class RequestCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self.writes = 0
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
                       "value TEXT NOT NULL, created REAL NOT NULL)")
            self._db = db
        return self._db

    def get(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, model: str, value: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO responses (key, model, value, created) VALUES (?, ?, ?, ?)",
                        (key, model, json.dumps(value, ensure_ascii=False), time.time()))
        self.writes += 1

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __getstate__(self):  # picklable for datatrove: the connection is reopened where it is used
        return {"path": self.path, "hits": 0, "misses": 0, "writes": 0, "_db": None}

    def __setstate__(self, state):
        self.__dict__.update(state)
