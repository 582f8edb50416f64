"""dashboard/api/review.py and multipart.py: uploads answer per file as the Upload screen does, are
streamed, verified (X-Content-SHA256) and idempotent (Idempotency-Key, even from ten threads at
once); bad input writes nothing; staged files are read, listed, approved and rejected."""

import hashlib
import os
import threading
import uuid
from pathlib import Path

import pytest

from tests.conftest import DEMO_STORAGE, bearer, make_token
from tests.pages.helpers import scalar

BUDGET = "Annual Budget"


@pytest.fixture
def budget(api) -> int:
    return scalar("select id from projects.projects where name = :n", n=BUDGET)


@pytest.fixture
def ci(api):
    return bearer(make_token("contributor@example.com", scopes=["read", "upload"], name=f"ci {uuid.uuid4()}"))


@pytest.fixture
def reviewer(api):
    secret = make_token("reviewer@example.com", scopes=["read", "review"], name=f"review {uuid.uuid4()}")
    return bearer(secret)


def _unique(text: str = "report") -> bytes:
    return f"{text} {uuid.uuid4()}\n".encode()


def _counts() -> tuple[int, int]:
    return (
        scalar("select count(*) from staging.documents_ingest"),
        scalar("select count(*) from staging.upload_claims"),
    )


def _objects(api_env) -> set[str]:
    root = Path(DEMO_STORAGE[api_env])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_an_upload_answers_per_file_staged_duplicate_or_refused_with_the_screens_words(api, ci, budget):
    body = _unique()
    response = api.post(
        f"/api/v1/projects/{budget}/uploads",
        headers=ci,
        files=[
            ("files", ("build-report.txt", body, "text/plain")),
            ("files", ("again.txt", body, "text/plain")),
            ("files", ("tool.exe", b"MZ\x90\x00" + os.urandom(64), "application/octet-stream")),
            ("files", ("../escape.txt", _unique(), "text/plain")),
        ],
        data={"notes": "from the pipeline", "metadata": "build: 42\nbranch: main"},
    )
    assert response.status_code == 200, response.text
    files = response.json()["files"]
    assert [f["status"] for f in files] == ["staged", "duplicate", "refused", "refused"]
    staged = files[0]["staged"]
    assert files[0]["message"].startswith("staged for review (Text, ")
    assert staged["status"] == "pending" and staged["notes"] == "from the pipeline"
    assert staged["metadata"] == {"build": "42", "branch": "main"}
    assert staged["checksum"] == hashlib.sha256(body).hexdigest()
    assert staged["uploaded_by_login"] == "contributor@example.com"
    assert "Windows executable" in files[2]["message"] and "path" in files[3]["message"]
    row = scalar("select context from audit.audit_log where table_name = 'documents_ingest'"
                 " and record_id = :i and action = 'insert'", i=str(staged["id"]))  # fmt: skip
    assert row["token"].startswith("ci ")


def test_the_same_content_twice_is_a_duplicate_with_the_reason(api, ci, budget):
    body = _unique()
    first = api.post(f"/api/v1/projects/{budget}/uploads", headers=ci, files=[("files", ("a.txt", body))])
    second = api.post(f"/api/v1/projects/{budget}/uploads", headers=ci, files=[("files", ("b.txt", body))])
    assert first.json()["files"][0]["status"] == "staged"
    again = second.json()["files"][0]
    assert again["status"] == "duplicate" and "waiting for review" in again["message"]


def test_x_content_sha256_is_verified_and_a_mismatch_writes_nothing(api, api_env, ci, budget):
    body = _unique()
    before, objects = _counts(), _objects(api_env)
    wrong = api.post(
        f"/api/v1/projects/{budget}/uploads", headers={**ci, "X-Content-SHA256": "0" * 64},
        files=[("files", ("checked.txt", body))],
    )  # fmt: skip
    assert wrong.status_code == 400 and "not the X-Content-SHA256" in wrong.json()["detail"]
    assert _counts() == before and _objects(api_env) == objects
    malformed = api.post(
        f"/api/v1/projects/{budget}/uploads", headers={**ci, "X-Content-SHA256": "xyz"},
        files=[("files", ("checked.txt", body))],
    )  # fmt: skip
    assert malformed.status_code == 400
    digest = hashlib.sha256(body).hexdigest()
    two = api.post(
        f"/api/v1/projects/{budget}/uploads", headers={**ci, "X-Content-SHA256": digest},
        files=[("files", ("a.txt", body)), ("files", ("b.txt", _unique()))],
    )  # fmt: skip
    assert two.status_code == 400 and "one file" in two.json()["detail"]
    right = api.post(
        f"/api/v1/projects/{budget}/uploads", headers={**ci, "X-Content-SHA256": digest.upper()},
        files=[("files", ("checked.txt", body))],
    )  # fmt: skip
    assert right.json()["files"][0]["status"] == "staged"


def test_a_body_larger_than_any_file_may_be_is_refused_before_it_is_read(api, api_env, ci, budget):
    largest = scalar("select max(max_size_bytes) from documents.filetype_reference where allowed")
    before = _counts()

    def endless():
        yield b'--x\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'
        raise AssertionError("the body was read")

    response = api.post(
        f"/api/v1/projects/{budget}/uploads",
        headers={
            **ci,
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(largest + 2**21),
        },
        content=endless(),
    )
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    assert _counts() == before


def test_a_file_larger_than_its_type_allows_is_refused_while_it_streams(api, api_env, ci, budget):
    limit = scalar("select max_size_bytes from documents.filetype_reference where mime_type = 'text/plain'")
    before, objects = _counts(), _objects(api_env)

    def chunks():
        yield b'--x\r\nContent-Disposition: form-data; name="files"; filename="huge.txt"\r\n\r\n'
        for _ in range(limit // 2**20 + 2):
            yield b"a" * 2**20
        yield b"\r\n--x--\r\n"

    response = api.post(
        f"/api/v1/projects/{budget}/uploads",
        headers={**ci, "Content-Type": "multipart/form-data; boundary=x"},
        content=chunks(),
    )
    # (Starlette's test client sends the whole body first; tests/e2e/test_api_served.py shows a real
    # server answering before the client has finished sending.)
    assert response.status_code == 413 and "huge.txt" in response.json()["detail"]
    assert _counts() == before and _objects(api_env) == objects


@pytest.mark.parametrize(
    "files, data, headers, status, words",
    [
        ([("notes", (None, b"no file"))], {}, {}, 400, "at least one file"),
        ([("attachment", ("a.txt", b"x"))], {}, {}, 400, "parts named `files`"),
        ([("files", ("a.txt", b"x"))], {"colour": "red"}, {}, 400, "Unknown form field"),
        ([("files", ("a.txt", b"x"))], {"metadata": "no colon here"}, {}, 400, "key: value"),
        ([("files", ("a.txt", b"x"))], {"notes": "n" * 70000}, {}, 400, "longer than"),
        (None, None, {"Content-Type": "application/json"}, 415, "multipart/form-data"),
        (None, None, {"Content-Type": "multipart/form-data; boundary=zz"}, 400, "not valid multipart"),
    ],
)
def test_bad_uploads_are_a_problem_and_write_nothing(
    api, api_env, ci, budget, files, data, headers, status, words
):
    before, objects = _counts(), _objects(api_env)
    path = f"/api/v1/projects/{budget}/uploads"
    if files is None:
        response = api.post(path, headers={**ci, **headers}, content=b"{broken")
    else:
        response = api.post(path, headers=ci, files=files or None, data=data)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert _counts() == before and _objects(api_env) == objects


@pytest.mark.parametrize(
    "name",
    ["a\x00b.txt", "..", "a/b.txt", "\u202etxt.exe", "x" * 300 + ".txt", "tab\there.txt", "<script>.txt"],
)
def test_hostile_file_names_are_refused_or_kept_as_text(api, api_env, ci, budget, name):
    objects = _objects(api_env)
    # Built by hand: a client library would percent-encode the name, and a hostile client does not.
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').encode()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="' + quoted + b'"\r\n\r\n'
        + _unique() + b"\r\n--b--\r\n"
    )  # fmt: skip
    response = api.post(
        f"/api/v1/projects/{budget}/uploads",
        headers={**ci, "Content-Type": "multipart/form-data; boundary=b"},
        content=body,
    )
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        [result] = response.json()["files"]
        if result["status"] == "staged":
            assert result["staged"]["name"] == name  # stored and answered as the text it is
        else:
            assert result["status"] == "refused" and _objects(api_env) == objects


def test_a_retried_upload_with_its_idempotency_key_gets_the_first_answer(api, ci, budget):
    key, body = str(uuid.uuid4()), _unique()
    send = lambda: api.post(  # noqa: E731
        f"/api/v1/projects/{budget}/uploads",
        headers={**ci, "Idempotency-Key": key},
        files=[("files", ("r.txt", body))],
    )
    first, second = send(), send()
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and first.json()["files"][0]["status"] == "staged"
    assert scalar("select count(*) from staging.documents_ingest where checksum = :c",
                  c=hashlib.sha256(body).hexdigest()) == 1  # fmt: skip
    other = api.post(
        f"/api/v1/projects/{budget}/uploads", headers={**ci, "Idempotency-Key": key},
        files=[("files", ("other.txt", _unique("a longer, different body")))],
    )  # fmt: skip
    assert other.status_code == 409 and "another request" in other.json()["detail"]


def test_ten_threads_retrying_one_upload_with_one_key_stage_it_once(api, ci, budget):
    key, body = str(uuid.uuid4()), _unique() * 2000
    answers, start = [], threading.Barrier(10)

    def send():
        start.wait()
        answers.append(
            api.post(
                f"/api/v1/projects/{budget}/uploads", headers={**ci, "Idempotency-Key": key},
                files=[("files", ("concurrent.txt", body))],
            )
        )  # fmt: skip

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == 10 and {a.status_code for a in answers} == {200}
    assert len({str(a.json()) for a in answers}) == 1
    assert answers[0].json()["files"][0]["status"] == "staged"
    assert scalar("select count(*) from staging.documents_ingest where checksum = :c",
                  c=hashlib.sha256(body).hexdigest()) == 1  # fmt: skip


def test_a_failed_request_frees_its_idempotency_key_for_the_retry(api, ci, budget):
    key, body = str(uuid.uuid4()), _unique()
    headers = {**ci, "Idempotency-Key": key}
    bad = api.post(f"/api/v1/projects/{budget}/uploads", headers=headers, files=[("files", ("r.txt", body))],
                   data={"metadata": "broken"})  # fmt: skip
    assert bad.status_code == 400
    good = api.post(f"/api/v1/projects/{budget}/uploads", headers=headers, files=[("files", ("r.txt", body))])
    assert good.status_code == 200 and good.json()["files"][0]["status"] == "staged"
    for bad_key in ("", "x" * 201, "tab\tkey"):
        response = api.post(f"/api/v1/projects/{budget}/uploads", headers={**ci, "Idempotency-Key": bad_key},
                            files=[("files", ("r.txt", _unique()))])  # fmt: skip
        assert response.status_code == 400, bad_key


def test_a_staged_file_is_read_listed_approved_and_reported(api, ci, reviewer, budget):
    uploaded = api.post(
        f"/api/v1/projects/{budget}/uploads", headers=ci, files=[("files", ("ok.txt", _unique()))]
    )
    staged = uploaded.json()["files"][0]["staged"]
    own = api.get(f"/api/v1/staged/{staged['id']}", headers=ci).json()
    assert own["status"] == "pending" and own["name"] == "ok.txt"
    queue, cursor = [], None
    while True:
        page = api.get(f"/api/v1/projects/{budget}/staged?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                       headers=reviewer).json()  # fmt: skip
        queue += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert staged["id"] in [s["id"] for s in queue] and all(s["status"] == "pending" for s in queue)
    path = f"/api/v1/staged/{staged['id']}/approve"
    decided = api.post(path, headers=reviewer, json={"reviewer_notes": "ok"})
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    document = decided.json()["document"]
    after = api.get(f"/api/v1/staged/{staged['id']}", headers=ci).json()
    assert after["status"] == "approved" and after["document_id"] == document["id"]
    assert after["reviewed_by_login"] == "reviewer@example.com"
    again = api.post(f"/api/v1/staged/{staged['id']}/approve", headers=reviewer)
    assert again.status_code == 409 and "already handled" in again.json()["detail"]


def test_a_rejection_needs_a_reason_and_the_uploader_reads_it(api, ci, reviewer, budget):
    uploaded = api.post(
        f"/api/v1/projects/{budget}/uploads", headers=ci, files=[("files", ("no.txt", _unique()))]
    )
    ingest_id = uploaded.json()["files"][0]["staged"]["id"]
    for body in (None, {}, {"reason": ""}, {"reason": "   "}, {"reason": 42}, {"reason": "x" * 2001}, [1, 2]):
        refused = api.post(f"/api/v1/staged/{ingest_id}/reject", headers=reviewer, json=body)
        assert refused.status_code == 400, body
    broken = api.post(
        f"/api/v1/staged/{ingest_id}/reject",
        headers={**reviewer, "Content-Type": "application/json"},
        content=b'{"reason": ',
    )
    assert broken.status_code == 400 and broken.headers["content-type"] == "application/problem+json"
    assert scalar("select status from staging.documents_ingest where id = :i", i=ingest_id) == "pending"
    reason = {"reason": "wrong <b>file</b>"}
    rejected = api.post(f"/api/v1/staged/{ingest_id}/reject", headers=reviewer, json=reason)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    seen = api.get(f"/api/v1/staged/{ingest_id}", headers=ci).json()
    assert seen["status"] == "rejected" and seen["rejection_reason"] == "wrong <b>file</b>"
    listed = api.get(f"/api/v1/projects/{budget}/staged?status=rejected&limit=200", headers=reviewer).json()
    assert ingest_id in [s["id"] for s in listed["items"]]
    assert api.get(f"/api/v1/projects/{budget}/staged?status=approved", headers=reviewer).status_code == 400


def test_an_idempotency_key_is_the_tokens_own_and_names_the_content(api, budget):
    key = str(uuid.uuid4())
    first_token = bearer(make_token("contributor@example.com", scopes=["upload"], name=f"a {key}"))
    second_token = bearer(make_token("contributor@example.com", scopes=["upload"], name=f"b {key}"))
    path = f"/api/v1/projects/{budget}/uploads"
    one, other = _unique("one"), _unique("two")  # the same length, other bytes
    assert len(one) == len(other)
    first = api.post(path, headers={**first_token, "Idempotency-Key": key}, files=[("files", ("f.txt", one))])
    changed = api.post(
        path, headers={**first_token, "Idempotency-Key": key}, files=[("files", ("f.txt", other))]
    )
    assert changed.status_code == 409  # never the old answer for new bytes
    elsewhere = api.post(
        path, headers={**second_token, "Idempotency-Key": key}, files=[("files", ("f.txt", other))]
    )
    assert first.json()["files"][0]["status"] == elsewhere.json()["files"][0]["status"] == "staged"
    assert first.json() != elsewhere.json()


def test_a_chunked_body_larger_than_any_request_may_be_is_refused_while_it_streams():
    from python_multipart.multipart import MultipartParser

    from dashboard.api.multipart import _Reader
    from dashboard.api.problems import Problem

    reader = _Reader(lambda name: 10_000, "utf-8", total_limit=5_000)
    callbacks = {n: getattr(reader, n) for n in dir(reader) if n.startswith("on_")}
    parser = MultipartParser(b"b", callbacks)
    head = b'--b\r\nContent-Disposition: form-data; name="files"; filename="f%d.txt"\r\n\r\n'
    parts = [head % i + b"x" * 3000 + b"\r\n" for i in range(3)]
    with pytest.raises(Problem) as refused:
        for part in parts:
            parser.write(part)
    assert refused.value.status == 413 and reader.total <= 6_200  # stopped in the second file
    reader.form.close()


def test_a_charset_that_is_not_a_text_encoding_is_ignored(api, ci, budget):
    for charset in ("base64", "zlib", "rot13", "hex", "no-such-charset"):
        response = api.post(
            f"/api/v1/projects/{budget}/uploads",
            headers={**ci, "Content-Type": f"multipart/form-data; boundary=b; charset={charset}"},
            content=b'--b\r\nContent-Disposition: form-data; name="files"; filename="c.txt"\r\n\r\n'
            + _unique(charset)
            + b"\r\n--b--\r\n",
        )
        assert response.status_code == 200, (charset, response.text)
        assert response.json()["files"][0]["status"] == "staged", charset


def test_a_body_cut_off_before_its_closing_boundary_stages_nothing(api, api_env, ci, budget):
    before, objects = _counts(), _objects(api_env)
    for cut in (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="cut.txt"\r\n\r\n' + _unique(),
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="cut.txt"\r\n\r\n' + _unique()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="notes"\r\n\r\nhalf a no',
    ):  # fmt: skip
        response = api.post(
            f"/api/v1/projects/{budget}/uploads",
            headers={**ci, "Content-Type": "multipart/form-data; boundary=b"},
            content=cut,
        )
        assert response.status_code == 400 and "cut off" in response.json()["detail"]
    assert _counts() == before and _objects(api_env) == objects


def test_a_bulk_approval_decides_the_projects_files_and_refuses_others(api, ci, reviewer, budget):
    files = [("files", (f"bulk-{i}.txt", _unique(f"bulk {i}"))) for i in range(3)]
    answer = api.post(f"/api/v1/projects/{budget}/uploads", headers=ci, files=files).json()
    staged = [f["staged"]["id"] for f in answer["files"]]
    elsewhere = scalar(
        "select min(id) from staging.documents_ingest where project_id <> :p and status = 'pending'", p=budget
    )
    response = api.post(
        f"/api/v1/projects/{budget}/staged/approve", headers=reviewer,
        json={"ids": [staged[0], elsewhere, staged[1], 999999999, staged[2]], "reviewer_notes": "bulk"},
    )  # fmt: skip
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["approved", "refused", "approved", "refused", "approved"]
    assert scalar("select status from staging.documents_ingest where id = :i", i=elsewhere) == "pending"
    for bad in ({"ids": []}, {"ids": list(range(1, 202))}, {"ids": ["x"]}, {}):
        assert (
            api.post(f"/api/v1/projects/{budget}/staged/approve", headers=reviewer, json=bad).status_code
            == 400
        )
