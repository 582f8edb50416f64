"""The object store stopping part-way through sending a file (issue 7's "mid-download"): a proxy
on loopback in front of moto's S3 server passes the first part of each answer and then drops the
connection. Whoever was reading (ProSync making a preview, `prosync reconcile --verify`, a
browser following a presigned link) gets a clear failure, nothing is written or marked corrupt,
and the same read succeeds once the store answers in full again."""

import hashlib
import io
import os
import socket
import threading
import urllib.request
from functools import partial
from http.client import IncompleteRead

import pytest

from db.core.errors import StorageUnavailable
from db.files import ingest, storage
from tests.conftest import _refresh_settings, acting, count, make_project, make_user, s3_environment

CUT_AFTER = 256 * 1024


class CuttingProxy:
    """TCP on loopback in front of moto. While `armed`, each connection passes at most CUT_AFTER
    bytes of answers and is then closed: the store stopping in the middle of a file."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.armed = False
        self.cuts = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        sent_while_armed = 0
        try:
            while chunk := source.recv(65536):
                if answers and self.armed:
                    if sent_while_armed + len(chunk) > CUT_AFTER:
                        sink.sendall(chunk[: CUT_AFTER - sent_while_armed])
                        self.cuts += 1
                        break
                    sent_while_armed += len(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def cutting(moto_s3, monkeypatch):
    """ProSync's upload store is moto's bucket, reached through the proxy."""
    moto_s3.start()
    proxy = CuttingProxy(moto_s3.port)
    for name, value in s3_environment(moto_s3, f"cut-{os.urandom(3).hex()}").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PROSYNC_S3_ENDPOINT_URL", proxy.endpoint)
    _refresh_settings()
    yield proxy
    proxy.close()
    monkeypatch.undo()
    _refresh_settings()


def _big_object(store) -> tuple[str, str, bytes]:
    data = os.urandom(3 * 1024 * 1024)
    checksum = hashlib.sha256(data).hexdigest()
    key = storage.object_key(checksum)
    store.put(
        io.BytesIO(data), key=key, checksum=checksum, size_bytes=len(data), content_type="application/pdf"
    )
    return checksum, key, data


def test_a_read_cut_off_by_the_store_says_so_and_a_retry_reads_it_whole(cutting):
    store = storage.make_store("s3", "s3")
    checksum, key, _ = _big_object(store)
    cutting.armed = True
    with pytest.raises(StorageUnavailable, match="stopped sending the file"):
        with store.open(key) as stream:
            storage.hash_stream(stream)
    assert cutting.cuts >= 1
    cutting.armed = False
    with store.open(key) as stream:
        assert storage.hash_stream(stream) == (checksum, 3 * 1024 * 1024)


def test_a_presigned_download_cut_off_leaves_the_link_good_for_a_retry(cutting):
    store = storage.make_store("s3", "s3")
    checksum, key, data = _big_object(store)
    url = store.download_url(key, filename="big.pdf", content_type="application/pdf", inline=False)
    cutting.armed = True
    with pytest.raises((IncompleteRead, ConnectionError, OSError)):
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
    cutting.armed = False
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert hashlib.sha256(answer.read()).hexdigest() == checksum, "the same link, whole this time"


def _noise_png() -> bytes:
    """A PNG of random pixels: it does not compress, so its bytes outlast the proxy's cut."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_approval_whose_preview_read_is_cut_off_is_approved_without_one(conn, cutting):
    owner = make_user(conn)
    project = make_project(conn, owner=owner)
    unit = partial(acting, conn, owner)
    data = _noise_png()
    assert len(data) > 4 * CUT_AFTER
    staged = ingest.stage_file(unit, project_id=project.id, name="noise.png", stream=io.BytesIO(data)).staged
    cutting.armed = True
    try:
        outcome = ingest.approve_file(unit, ingest_id=staged.id)
    finally:
        cutting.armed = False
    assert cutting.cuts >= 1, "the preview's read of the file was cut off"
    assert outcome.status == "approved" and outcome.document.preview_key is None
    assert count(conn, "select count(*) from documents.documents where id = :d", d=outcome.document.id) == 1
    again = ingest.stage_file(
        unit, project_id=project.id, name="noise-2.png", stream=io.BytesIO(_noise_png())
    ).staged
    assert ingest.approve_file(unit, ingest_id=again.id).document.preview_key, "previews resume"
