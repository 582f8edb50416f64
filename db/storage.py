"""Object storage. Keys are made from the content's SHA-256, never from a user's file name."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from db.settings import Settings, get_settings


def object_key(checksum: str) -> str:
    """Content-addressed key: sha256/ab/cd/abcd…"""
    return f"sha256/{checksum[:2]}/{checksum[2:4]}/{checksum}"


@dataclass(frozen=True)
class StoredObject:
    checksum: str
    size_bytes: int
    key: str


class LocalStorage:
    """Objects as files under one folder (the embedded default)."""

    code = "local"

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("object key escapes the storage folder")
        return path

    def put_bytes(self, data: bytes) -> StoredObject:
        """Store bytes under their checksum (written atomically; a second put is a no-op)."""
        checksum = hashlib.sha256(data).hexdigest()
        key = object_key(checksum)
        path = self._path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp.name, path)
        return StoredObject(checksum=checksum, size_bytes=len(data), key=key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def path(self, key: str) -> Path:
        """Where an object lives on disk (for a streamed response)."""
        return self._path(key)

    def read_bytes(self, key: str, *, limit: int) -> bytes:
        """The first `limit` bytes of an object (previews never read a whole large file)."""
        with self._path(key).open("rb") as fh:
            return fh.read(limit)


def get_storage(settings: Settings | None = None) -> LocalStorage:
    """The configured object store."""
    settings = settings or get_settings()
    return LocalStorage(settings.storage_dir)
