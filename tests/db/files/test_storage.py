"""One contract for every object store: a local folder and S3 (moto's HTTP server on loopback)."""

import hashlib
import io
import os

import pytest

from db.core.errors import InvalidInput, NotFound, StorageUnavailable
from db.files import storage


class OneWayStream(io.RawIOBase):
    """A stream that cannot seek and counts the largest read, like a socket or a pipe."""

    def __init__(self, data: bytes):
        self.source = io.BytesIO(data)
        self.largest_read = 0

    def readable(self):
        return True

    def read(self, size=-1):
        chunk = self.source.read(size)
        self.largest_read = max(self.largest_read, len(chunk))
        return chunk


def _put(store, data: bytes, stream=None):
    checksum = hashlib.sha256(data).hexdigest()
    key = storage.object_key(checksum)
    store.put(
        stream or io.BytesIO(data),
        key=key,
        checksum=checksum,
        size_bytes=len(data),
        content_type="text/plain",
    )
    return checksum, key


def test_put_exists_open_list_delete(store):
    checksum, key = _put(store, b"hello, storage")
    assert key == f"sha256/{checksum[:2]}/{checksum[2:4]}/{checksum}"
    assert store.exists(key)
    with store.open(key) as stream:
        assert stream.read() == b"hello, storage"
    assert store.read_head(key, limit=5) == b"hello"
    listed = {o.key: o.size_bytes for o in store.list_objects("sha256/")}
    assert listed == {key: 14}
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # removing a missing object is not an error
    assert list(store.list_objects("sha256/")) == []


def test_opening_a_missing_object_says_so(store):
    with pytest.raises(NotFound, match="missing from storage"):
        store.open(storage.object_key("0" * 64))


def test_bytes_that_do_not_match_their_checksum_are_not_kept(store):
    wrong = hashlib.sha256(b"something else").hexdigest()
    key = storage.object_key(wrong)
    with pytest.raises(StorageUnavailable, match="changed while it was being stored"):
        store.put(
            io.BytesIO(b"these bytes"), key=key, checksum=wrong, size_bytes=11, content_type="text/plain"
        )
    assert not store.exists(key)
    assert list(store.list_objects("sha256/")) == []


def test_a_large_file_streams_in_bounded_reads(store):
    data = os.urandom(11 * 1024 * 1024 + 17)  # three S3 parts of 5 MB
    stream = OneWayStream(data)
    checksum, key = _put(store, data, stream)
    assert stream.largest_read <= 5 * 1024 * 1024, "never read whole into memory"
    with store.open(key) as out:
        assert storage.hash_stream(out) == (checksum, len(data))


@pytest.fixture
def s3_store(moto_s3):
    from db.core.settings import load
    from tests.conftest import s3_environment

    moto_s3.start()
    return storage.S3Storage(load(s3_environment(moto_s3, f"s3-{os.urandom(4).hex()}")))


def test_s3_objects_carry_the_sha256_the_store_was_sent(s3_store):
    small, large = b"small object", os.urandom(6 * 1024 * 1024)
    for data in (small, large):
        checksum, key = _put(s3_store, data)
        head = s3_store.client.head_object(
            Bucket=s3_store.bucket, Key=s3_store.prefix + key, ChecksumMode="ENABLED"
        )
        assert head["ContentLength"] == len(data)
        if data is small:
            assert head["ChecksumSHA256"] == storage._b64(bytes.fromhex(checksum))
        else:
            assert head["ChecksumSHA256"], "a multipart upload whose parts were each checksummed"


def test_s3_download_urls_are_presigned_and_short_lived(s3_store):
    import urllib.request

    _, key = _put(s3_store, b"%PDF-1.4 tiny")
    url = s3_store.download_url(key, filename="Q3 report.pdf", content_type="application/pdf", inline=False)
    assert "X-Amz-Expires=300" in url and "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"%PDF-1.4 tiny"
        assert "Q3%20report.pdf" in answer.headers["Content-Disposition"]
        assert answer.headers["Content-Type"] == "application/pdf"


def test_a_local_folder_streams_downloads_through_prosync(tmp_path):
    local = storage.LocalStorage(tmp_path / "objects")
    _, key = _put(local, b"bytes")
    assert local.download_url(key, filename="a.txt", content_type="text/plain", inline=True) is None
    assert local.path(key).read_bytes() == b"bytes"


@pytest.mark.parametrize(
    "key",
    ["../../etc/passwd", "sha256/../../x", "/etc/passwd", "sha256//x", "./x", "sha256/ab/..", "a\x00b", ""],
)
def test_keys_cannot_escape_the_local_folder(tmp_path, key):
    local = storage.LocalStorage(tmp_path / "objects")
    for action in (local.exists, local.delete, local.open, local.path):
        with pytest.raises(InvalidInput, match="escapes"):
            action(key)
    with pytest.raises(InvalidInput, match="escapes"):
        local.put(io.BytesIO(b"x"), key=key, checksum="0" * 64, size_bytes=1, content_type="text/plain")
    assert not (tmp_path / "etc").exists() and not any(tmp_path.parent.glob("x"))


def test_a_stopped_s3_endpoint_gives_a_clear_message(moto_s3, monkeypatch):
    from db.core.settings import load
    from tests.conftest import s3_environment

    s3 = storage.S3Storage(load(s3_environment(moto_s3, "stopped")))
    moto_s3.stop()
    try:
        with pytest.raises(StorageUnavailable, match="did not accept the file.*try again"):
            _put(s3, b"never arrives")
    finally:
        moto_s3.start()
    assert not s3.exists(storage.object_key(hashlib.sha256(b"never arrives").hexdigest()))
