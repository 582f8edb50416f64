"""Object storage: one interface, two providers (a local folder and S3 through boto3).

Keys are made from the content's SHA-256 (`sha256/ab/cd/<hex>`), never from a user's file name, so
the same bytes are stored once and approving a staged file moves nothing. Every write streams: the
bytes pass in chunks, their SHA-256 is checked on the way (by ProSync for a folder, by the store
itself for S3), and no file is ever read whole into memory.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, text

from db.core.errors import InvalidInput, NotFound, StorageUnavailable
from db.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
CONTENT_PREFIX = "sha256/"
PREVIEW_PREFIX = "previews/"


def object_key(checksum: str) -> str:
    """Content-addressed key: sha256/ab/cd/abcd…"""
    return f"{CONTENT_PREFIX}{checksum[:2]}/{checksum[2:4]}/{checksum}"


def preview_key(checksum: str) -> str:
    """Where the preview image of some content lives (one per content, like the content itself)."""
    return f"{PREVIEW_PREFIX}{checksum[:2]}/{checksum[2:4]}/{checksum}.png"


def checksum_of_key(key: str) -> str | None:
    """The SHA-256 a content or preview key was made from, or None for a foreign key."""
    name = key.rsplit("/", 1)[-1].removesuffix(".png")
    if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
        return name
    return None


@dataclass(frozen=True)
class StoredObject:
    checksum: str
    size_bytes: int
    key: str


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size_bytes: int
    modified_at: datetime


def seekable(stream: BinaryIO) -> tuple[BinaryIO, bool]:
    """The stream itself when it can seek, else a copy spooled to a temporary file on disk (never to
    memory); the flag says whether a copy was made (the caller closes it)."""
    if getattr(stream, "seekable", lambda: False)():
        return stream, False
    spool = tempfile.TemporaryFile()
    shutil.copyfileobj(stream, spool, CHUNK)
    spool.seek(0)
    return spool, True


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    """SHA-256 (hex) and size of a stream, read in chunks from where it stands."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class ObjectStore(ABC):
    """What ProSync needs from a place that keeps bytes."""

    code: str
    provider: str

    @abstractmethod
    def put(self, stream: BinaryIO, *, key: str, checksum: str, size_bytes: int, content_type: str) -> None:
        """Store `size_bytes` bytes read from `stream` under `key`; refuse them if their SHA-256 differs."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True when an object is stored under `key`."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A stream of the object's bytes (close it after use)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""

    @abstractmethod
    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`."""

    def download_url(self, key: str, *, filename: str, content_type: str, inline: bool) -> str | None:
        """A short-lived URL the browser can fetch directly, or None to stream through ProSync."""
        return None

    @abstractmethod
    def check(self) -> None:
        """StorageUnavailable unless the store answers and can take files (a health check)."""

    def put_bytes(self, data: bytes, *, content_type: str = "application/octet-stream") -> StoredObject:
        """Store small bytes under their checksum (demo data, previews); a second put is a no-op."""
        checksum = hashlib.sha256(data).hexdigest()
        key = object_key(checksum)
        if not self.exists(key):
            self.put(
                io.BytesIO(data), key=key, checksum=checksum, size_bytes=len(data), content_type=content_type
            )
        return StoredObject(checksum=checksum, size_bytes=len(data), key=key)

    def read_head(self, key: str, *, limit: int) -> bytes:
        """The first `limit` bytes of an object (previews never read a whole large file)."""
        with self.open(key) as stream:
            return stream.read(limit)


class LocalStorage(ObjectStore):
    """Objects as files under one folder (the embedded default)."""

    provider = "local"

    def __init__(self, root: Path, code: str = "local"):
        self.root = Path(root)
        self.code = code
        self._resolved: Path | None = None

    def _path(self, key: str) -> Path:
        # Checked by its parts, not by resolving the path (a system call per folder on every read
        # and write): no absolute key, no "..", ".", empty part or NUL can leave the folder.
        parts = key.split("/")
        if key.startswith("/") or "\x00" in key or any(p in ("", ".", "..") for p in parts):
            raise InvalidInput("The object key escapes the storage folder.")
        if self._resolved is None:
            self._resolved = self.root.resolve()
        return self._resolved.joinpath(*parts)

    def path(self, key: str) -> Path:
        """Where an object lives on disk (for a streamed response)."""
        return self._path(key)

    def put(self, stream: BinaryIO, *, key: str, checksum: str, size_bytes: int, content_type: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            # Written beside its final place and renamed: a reader never sees half a file.
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".upload-", delete=False) as tmp:
                try:
                    while chunk := stream.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        tmp.write(chunk)
                    tmp.flush()
                    os.fsync(tmp.fileno())
                except BaseException:
                    os.unlink(tmp.name)
                    raise
            if digest.hexdigest() != checksum or size != size_bytes:
                os.unlink(tmp.name)
                raise StorageUnavailable("The file changed while it was being stored; nothing was kept.")
            os.replace(tmp.name, path)
        except OSError as error:
            raise StorageUnavailable(f"The storage folder refused the file ({error.strerror}).") from error

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)  # made at the first upload anyway
        except OSError:
            pass
        if not self.root.is_dir() or not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageUnavailable("The storage folder is missing or not writable.")

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as error:
            raise NotFound("The file is missing from storage; run `prosync reconcile`.") from error
        except OSError as error:
            raise StorageUnavailable(f"The storage folder could not be read ({error.strerror}).") from error

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StorageUnavailable(f"The storage folder refused a removal ({error.strerror}).") from error

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".upload-"):
                stat = path.stat()
                yield ObjectInfo(
                    key=path.relative_to(self.root).as_posix(),
                    size_bytes=stat.st_size,
                    modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                )


@lru_cache(maxsize=8)
def _s3_client(endpoint_url, region, access_key, secret_key, max_attempts, timeout):
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region,
        connect_timeout=min(timeout, 10),
        read_timeout=timeout,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        signature_version="s3v4",
        # MinIO, Ceph and most self-hosted endpoints want path-style addressing.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        # ProSync sends a SHA-256 itself; no extra CRC that older S3-compatible stores reject.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class S3Storage(ObjectStore):
    """Objects in an S3-compatible bucket (AWS, MinIO, Ceph, R2), through boto3."""

    provider = "s3"

    def __init__(self, settings: Settings, code: str = "s3"):
        if not settings.s3_bucket:
            raise StorageUnavailable("S3 storage is selected but PROSYNC_S3_BUCKET is not set.")
        self.code = code
        self.bucket = settings.s3_bucket
        self.prefix = f"{settings.s3_prefix}/" if settings.s3_prefix else ""
        self.part_size = settings.s3_part_size_mb * 1024 * 1024
        self.url_seconds = settings.presigned_url_seconds
        self.client = _s3_client(
            settings.s3_endpoint_url,
            settings.s3_region,
            settings.s3_access_key_id,
            settings.s3_secret_access_key,
            settings.s3_max_attempts,
            settings.s3_timeout_seconds,
        )

    def _unavailable(self, error: Exception, doing: str) -> StorageUnavailable:
        log.warning("S3 %s failed: %s", doing, error)
        return StorageUnavailable(
            f"The object store did not {doing} (bucket {self.bucket}: {type(error).__name__}). "
            "Nothing was recorded; try again, and tell an administrator if it persists."
        )

    def put(self, stream: BinaryIO, *, key: str, checksum: str, size_bytes: int, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        full_key = self.prefix + key
        try:
            if size_bytes <= self.part_size:
                # One request of at most one part's size (the same memory bound as a multipart part).
                # The SHA-256 is checked here and sent, so the store checks it again on arrival.
                body = stream.read(self.part_size + 1)
                if hashlib.sha256(body).hexdigest() != checksum or len(body) != size_bytes:
                    raise StorageUnavailable("The file changed while it was being stored; nothing was kept.")
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=full_key,
                    Body=body,
                    ContentType=content_type,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=_b64(bytes.fromhex(checksum)),
                )
            else:
                self._put_multipart(stream, full_key, checksum, size_bytes, content_type)
        except (BotoCoreError, ClientError) as error:
            raise self._unavailable(error, "accept the file") from error

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise self._unavailable(error, "answer") from error

    def _put_multipart(self, stream: BinaryIO, key: str, checksum: str, size_bytes: int, content_type: str):
        """Parts of `part_size` bytes, each with its own SHA-256 checked by the store."""
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type, ChecksumAlgorithm="SHA256"
        )
        upload_id = upload["UploadId"]
        whole = hashlib.sha256()
        parts = []
        try:
            number = 1
            while part := stream.read(self.part_size):
                whole.update(part)
                part_sum = _b64(hashlib.sha256(part).digest())
                answer = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=part,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=part_sum,
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": part_sum})
                number += 1
            if whole.hexdigest() != checksum:
                raise StorageUnavailable("The file changed while it was being stored; nothing was kept.")
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:  # the store is down: its lifecycle rules expire the parts
                log.warning("could not abort multipart upload %s of %s", upload_id, key)
            raise

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._unavailable(error, "answer") from error
        except BotoCoreError as error:
            raise self._unavailable(error, "answer") from error

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return _Body(
                self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"], self.bucket
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise NotFound("The file is missing from storage; run `prosync reconcile`.") from error
            raise self._unavailable(error, "send the file") from error
        except BotoCoreError as error:
            raise self._unavailable(error, "send the file") from error

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except (BotoCoreError, ClientError) as error:
            raise self._unavailable(error, "remove the file") from error

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"].removeprefix(self.prefix),
                        size_bytes=item["Size"],
                        modified_at=item["LastModified"],
                    )
        except (BotoCoreError, ClientError) as error:
            raise self._unavailable(error, "list its files") from error

    def download_url(self, key: str, *, filename: str, content_type: str, inline: bool) -> str | None:
        from urllib.parse import quote

        disposition = "inline" if inline else "attachment"
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.prefix + key,
                "ResponseContentDisposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
                "ResponseContentType": content_type,
            },
            ExpiresIn=self.url_seconds,
        )


class _Body(io.RawIOBase):
    """An S3 object's body whose reads fail as StorageUnavailable when the store stops sending part-way
    (botocore raises its own errors there, which no caller of `open` would know to catch)."""

    def __init__(self, body, bucket: str):
        super().__init__()
        self._body = body
        self._bucket = bucket

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        from botocore.exceptions import BotoCoreError

        try:
            return self._body.read(None if size is None or size < 0 else size)
        except (BotoCoreError, OSError) as error:
            log.warning("S3 read of an object in %s stopped: %s", self._bucket, error)
            raise StorageUnavailable(
                f"The object store stopped sending the file part-way (bucket {self._bucket}: "
                f"{type(error).__name__}). Nothing was changed; try again."
            ) from error

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


def make_store(code: str, provider: str, settings: Settings | None = None) -> ObjectStore:
    """The store of one `documents.storage_reference` row, configured from settings."""
    settings = settings or get_settings()
    if provider == "local":
        return LocalStorage(settings.storage_dir, code=code)
    if provider == "s3":
        return S3Storage(settings, code=code)
    raise InvalidInput(f"Unknown storage provider {provider!r}.")


def providers(conn: Connection) -> dict[str, str]:
    """Storage code -> provider, from documents.storage_reference."""
    rows = conn.execute(text("select code, provider from documents.storage_reference")).all()
    return {row.code: row.provider for row in rows}


def store_for(conn: Connection, code: str, settings: Settings | None = None) -> ObjectStore:
    """The store that holds objects recorded with storage `code`."""
    provider = providers(conn).get(code)
    if provider is None:
        raise NotFound(f"There is no storage called {code!r}.")
    return make_store(code, provider, settings)


def upload_store(conn: Connection, settings: Settings | None = None) -> ObjectStore:
    """Where new uploads go: PROSYNC_STORAGE, else the storage_reference row marked default."""
    settings = settings or get_settings()
    code = (
        settings.storage_code
        or conn.execute(
            text("select code from documents.storage_reference where is_default")
        ).scalar_one_or_none()
    )
    if code is None:
        raise NotFound("No storage is marked as the default; set PROSYNC_STORAGE.")
    return store_for(conn, code, settings)
