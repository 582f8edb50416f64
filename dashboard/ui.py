"""Shared UI pieces: the process's engine (cached resource), the signed-in user, the session gate,
the one way a screen writes (run_write), keyset pages, and showing text people typed as text
(Markdown, chart labels, CSV cells)."""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from dashboard.auth_routes import SESSION_COOKIE, SIGN_IN_PATH, reason_code
from db.core.engine import database_url, get_engine, get_read_engine, read_only, set_actor, transaction
from db.core.errors import AuthenticationFailed, ProSyncError
from db.core.settings import get_settings
from db.core.types import Cursor, Page, Session, User
from db.domain import access, search, sessions, users

log = logging.getLogger(__name__)
T = TypeVar("T")

# Every ASCII punctuation character. CommonMark lets a backslash escape any of them, which turns off
# emphasis, links, images, headings, lists, tables, HTML, `$` LaTeX and Streamlit's `:red[…]` directives.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Streamlit's renderer rewrites some plain text after the escapes are resolved: addresses become links
# (`http:`, `a@b.org`, `www.`), `:material_x:`, `:streamlit:` and emoji short codes become pictures, and
# `->`, `--`, `>=` become arrows and dashes. An empty directive (an empty <span>) between the two
# characters leaves them in two pieces of text, which none of these rewrites matches across.
_REWRITTEN_ACROSS = re.compile(r"(?=[:@])|(?<=www)(?=\.)|(?<=[-<>~])(?=[->=])", re.IGNORECASE)
_EMPTY = ":small[]"
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def md(value: object) -> str:
    """`value` as Markdown that shows it literally, on one line: for any text a person or a client
    supplied that goes into st.markdown, st.write, st.caption, alerts, toasts, headings and labels."""
    text = _CONTROL.sub(" ", str(value))
    return _EMPTY.join(_PUNCTUATION.sub(r"\\\1", part) for part in _REWRITTEN_ACROSS.split(text))


def snippet_markdown(snippet: str) -> str:
    """A search snippet (matched words between search.START and search.STOP) as Markdown: the
    file's own text shown literally, the matched words in bold."""
    return "".join(
        f"**{md(part)}**" if matched else md(part) for part, matched in search.snippet_parts(snippet)
    )


def snippet_text(snippet: str) -> str:
    """A search snippet for a table cell (shown as typed there): matched words between « and »."""
    return " ".join(snippet.replace(search.START, "«").replace(search.STOP, "»").split())


def chart_text(value: object) -> str:
    """`value` for a plotly label, legend entry or hover text, which read a few HTML tags (links among
    them): escaped, and shown with the entities decoded, so `<b>` and `A&B` read as typed."""
    return html.escape(str(value), quote=False)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as CSV, each text cell that a spreadsheet would run as a formula prefixed with `'`."""
    frame = frame.copy()
    for column in frame.select_dtypes(include=["object", "string", "category"]).columns:
        frame[column] = frame[column].map(
            lambda cell: "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_START) else cell
        )
    # CRLF line ends (RFC 4180) also make the writer quote a cell holding a lone carriage return.
    return frame.to_csv(index=False, lineterminator="\r\n").encode()


@st.cache_resource
def _engine_for(url: str) -> Engine:
    return get_engine()


def engine() -> Engine:
    """One engine per Streamlit server process (per configured database)."""
    return _engine_for(database_url())


@st.cache_resource
def _read_engine_for(url: str | None) -> Engine:
    return get_read_engine()


def read_engine() -> Engine:
    """The engine read-only screens use: the DATABASE_READ_URL replica when set, else engine()."""
    url = get_settings().database_read_url
    return _read_engine_for(url) if url else engine()


# After a write, this browser session reads from the primary for a moment, so that the page right
# after a form submit shows the write even where a replica has not replayed it yet.
OWN_WRITES_SECONDS = 10


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: Session


def resolve_visitor(token: str | None) -> SignedIn | str:
    """The signed-in user behind a session token, or the reason there is none."""
    if not isinstance(token, str) or not token:
        return "Please sign in."
    try:
        with transaction(actor_id=None, engine=engine()) as conn:
            session = sessions.resolve_session(conn, token=token)
            set_actor(conn, session.user_id)  # the sessions policy: a session is touched by its own user
            sessions.touch_session(conn, session_id=session.id)  # at most once a minute
            user = users.get_user(conn, user_id=session.user_id)
    except AuthenticationFailed as error:
        return str(error)
    return SignedIn(user=user, session=session)


def client() -> dict[str, str | None]:
    """The browser's user agent and IP address, for the audit log's sign-out and revocation events."""
    return {"user_agent": st.context.headers.get("User-Agent"), "ip_address": st.context.ip_address}


def session_gate() -> SignedIn | None:
    """Resolve the browser's session cookie on every run; show why and stop when it is not good."""
    visitor = resolve_visitor(st.context.cookies.get(SESSION_COOKIE))
    if isinstance(visitor, str):
        st.session_state.pop("user", None)
        st.title("ProSync")
        st.info(md(visitor))
        st.link_button(
            "Sign in", f"{SIGN_IN_PATH}?{urlencode({'reason': reason_code(visitor)})}", type="primary"
        )
        return None
    st.session_state["user"] = visitor.user
    st.session_state["session_id"] = visitor.session.id
    return visitor


def signed_in_user() -> User:
    """The user the router resolved for this run (pages run only after the gate)."""
    return st.session_state["user"]


def just_wrote() -> bool:
    """Whether this browser session wrote in the last OWN_WRITES_SECONDS (its reads go to the primary)."""
    return time.monotonic() - st.session_state.get("wrote_at", float("-inf")) < OWN_WRITES_SECONDS


def reader(user_id: int | None = None, *, primary: bool | None = None):
    """A read-only transaction as the signed-in user (or `user_id`, for cached reads that take it as
    an argument): on the replica, unless this session has just written (then on the primary, which
    has the write)."""
    primary = just_wrote() if primary is None else primary
    return read_only(
        actor_id=signed_in_user().id if user_id is None else user_id,
        engine=engine() if primary else read_engine(),
    )


@dataclass(frozen=True)
class Written(Generic[T]):
    """A write that went through, with what its action returned (`run_write` gives None instead when
    it was refused). Always true, even when the action returned 0, False or None."""

    result: T


def run_write(
    action: Callable[[Any], T],
    success: str | Callable[[T], str | None] | None = None,
    *,
    own_transactions: bool = False,
    changes_reads: bool = True,
) -> Written[T] | None:
    """The one way a screen writes: run `action` as the signed-in user, on the primary, and show
    the outcome.

    `action(conn)` runs in one transaction that this opens and commits. With `own_transactions=True`
    the action opens its own instead (the ingest steps, which span storage and the database):
    `action(units)` gets the unit-of-work factory, `with units() as conn: …` as the signed-in user.

    Refused (a ProSyncError): the reason is shown as an error and None returned; that transaction
    wrote nothing. Done: Written(what the action returned); cached reads are cleared, this browser
    session reads from the primary for OWN_WRITES_SECONDS (so a replica that lags still shows it
    the write, see reader()), and `success` (plain text, or a function of the action's result that
    gives it; None for no message) is shown as a toast and again after the rerun (show_flash).
    Messages may quote what people typed: they are shown literally, never as Markdown. Steps that
    committed before a refusal (own_transactions) count as written too.

    `changes_reads=False` for a write no screen reads back (the audit log's record of a look, a
    sign-out): the process's cached reads, everyone's, are kept, and this session's reads stay where
    they were.
    """
    units = partial(transaction, actor_id=signed_in_user().id, engine=engine())
    try:
        if own_transactions:
            result = action(units)
        else:
            with units() as conn:
                result = action(conn)
    except ProSyncError as error:
        if own_transactions and changes_reads:
            _wrote()
        st.error(md(error), icon=":material/error:")
        return None
    if changes_reads:
        _wrote()
    message = success(result) if callable(success) else success
    if message:
        st.toast(md(message), icon=":material/check_circle:")
        st.session_state["flash"] = message
    return Written(result)


def _wrote() -> None:
    st.cache_data.clear()
    st.session_state["wrote_at"] = time.monotonic()


def show_flash() -> None:
    """Show the success message of the write that caused this rerun, once."""
    message = st.session_state.pop("flash", None)
    if message:
        st.success(md(message), icon=":material/check_circle:")


def viewer_timezone() -> str:
    tz = st.context.timezone
    return tz if isinstance(tz, str) and tz else "UTC"


def localize(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Timestamps in the viewer's time zone (from the browser), for display."""
    tz = viewer_timezone()
    frame = frame.copy()
    for column in columns:
        if column in frame and not frame.empty:
            frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert(tz)
    return frame


def csv_download(frame: pd.DataFrame, name: str, *, key: str) -> None:
    """A "Download CSV" button for the frame (see csv_bytes); `name` may quote a project's name."""
    st.download_button(
        "Download CSV",
        csv_bytes(frame),
        file_name=(re.sub(r"[^\w.-]+", "-", name).strip("-.") or "table") + ".csv",
        mime="text/csv",
        icon=":material/download:",
        key=key,
    )


class KeysetPager:
    """Next and previous pages of a keyset-paginated list (never OFFSET): the cursors of the pages
    before this one, kept in the browser session under `key`. A new `scope` (the list's project or
    filters) starts again at the first page.

        pager = KeysetPager("queue", scope=project_id)
        page = staging.list_pending(conn, project_id=project_id, after=pager.cursor, limit=25)
        …the table of page.rows…
        pager.buttons(page)
    """

    def __init__(self, key: str, *, scope: object = None):
        self.key = key
        state = st.session_state.get(f"{key}-pages")
        if state is None or state["scope"] != scope:
            state = st.session_state[f"{key}-pages"] = {"scope": scope, "cursors": []}
        self._cursors: list[Cursor] = state["cursors"]

    @property
    def cursor(self) -> Cursor | None:
        """Where the page to show starts (None: the first page)."""
        return self._cursors[-1] if self._cursors else None

    @property
    def number(self) -> int:
        """The page shown, from 1."""
        return len(self._cursors) + 1

    def buttons(self, page: Page, *, caption: str | None = None) -> None:
        """The Previous page and Next page buttons under the list, and a caption beside them."""
        left, middle, right = st.columns([1, 1, 4])
        if left.button("Previous page", key=f"{self.key}-previous", disabled=not self._cursors,
                       icon=":material/chevron_left:"):  # fmt: skip
            self._cursors.pop()
            st.rerun()
        if middle.button("Next page", key=f"{self.key}-next", disabled=page.next is None,
                         icon=":material/chevron_right:"):  # fmt: skip
            self._cursors.append(page.next)
            st.rerun()
        if caption:
            right.caption(caption)


def project_picker(projects: list, *, key: str, label: str = "Project"):
    """A selectbox of projects (by name); None when there are none."""
    if not projects:
        st.info("You are not a member of any project yet. Ask a project owner to add you.")
        return None
    by_id = {p.id: p for p in projects}
    wanted = st.query_params.get("project")
    ids = list(by_id)
    index = ids.index(int(wanted)) if wanted and wanted.isdigit() and int(wanted) in by_id else 0
    chosen = st.selectbox(label, ids, index=index, format_func=lambda i: by_id[i].name, key=key)
    admin_view_notice(chosen)
    return by_id[chosen]


def admin_view_notice(project_id: int | None) -> None:
    """An admin opening a project they are not a member of: the project's audit trail records it
    (the data-access layer writes at most once an hour per admin and project; this session asks
    again after that long), and the screen says so. Without the record, no look: the page stops."""
    user = signed_in_user()
    if project_id is None or not user.is_admin:
        return
    noted = st.session_state.setdefault("admin_views", {})
    every = access.ADMIN_VIEW_RECORDED_EVERY.total_seconds()
    if project_id not in noted or time.monotonic() - noted[project_id][1] > every:
        looked = run_write(
            lambda conn: access.record_admin_view(conn, project_id=project_id), changes_reads=False
        )
        if looked is None:
            st.caption("Your look at this project could not be recorded, so it is not shown.")
            st.stop()
        noted[project_id] = (looked.result, time.monotonic())
    if noted[project_id][0]:
        st.caption(
            ":material/shield_person: You are not a member of this project: you see it as an"
            " administrator, and its audit trail records that you looked."
        )


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def history_table(history: list, *, with_values: bool = False) -> None:
    """A project's or document's history: when, what, who, which columns (and new values)."""
    if not history:
        st.caption("No history yet.")
        return
    rows = []
    for h in history:
        row = {"When": h.changed_at, "What": h.operation, "By": h.changed_by_login or "outside the app",
               "Changed": ", ".join(h.changed_columns or []) or "-"}  # fmt: skip
        if with_values:
            row["New values"] = h.new_values
        rows.append(row)
    st.dataframe(
        localize(pd.DataFrame(rows), "When"),
        hide_index=True,
        column_config={"When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss z")},
    )


PREVIEW_LIMIT = 10 * 1024 * 1024


@st.cache_data(ttl=600, max_entries=32, show_spinner=False)
def _object_head(code: str, provider: str, key: str, limit: int) -> bytes:
    """The first `limit` bytes of an object. Keys are content-addressed, so the bytes behind a key
    never change: a rerun (a click elsewhere on the page) does not read them from storage again.
    Only pages that have checked the reader may see the file call this."""
    from db.files import storage

    return storage.make_store(code, provider).read_head(key, limit=limit)


def _head(store, key: str, limit: int) -> bytes:
    return _object_head(store.code, store.provider, key, limit)


def _image_source(store, key: str, name: str, mime_type: str):
    """A short-lived presigned URL the browser loads straight from S3, or the bytes of a local file."""
    url = store.download_url(key, filename=name, content_type=mime_type, inline=True)
    return url if url is not None else _head(store, key, PREVIEW_LIMIT)


def show_preview(
    *, storage_code: str, key: str, mime_type: str, size_bytes: int, name: str, preview_key: str | None = None
) -> None:
    """A file's preview: a PDF viewer, the image, the first 20 KB of text, or the stored preview image."""
    from db.files import previews, storage

    try:
        with reader() as conn:
            store = storage.store_for(conn, storage_code)
        if not store.exists(key):
            st.warning("The file is missing from storage; an administrator can run `prosync reconcile`.")
        elif mime_type == "application/pdf" and size_bytes <= PREVIEW_LIMIT:
            st.pdf(_head(store, key, PREVIEW_LIMIT), height=480)
        elif preview_key and store.exists(preview_key):
            st.image(
                _image_source(store, preview_key, f"{name}.png", "image/png"),
                caption=f"Preview of {md(name)}",
            )
        elif mime_type in previews.BROWSER_IMAGE_TYPES and size_bytes <= PREVIEW_LIMIT:
            st.image(_image_source(store, key, name, mime_type), caption=md(name))
        elif mime_type.startswith("image/"):  # a TIFF: decoded only in the preview worker, never here
            st.caption("Its preview is made when it is approved; download it to see it now.")
        elif mime_type.startswith("text/") or mime_type == "application/json":
            st.code(_head(store, key, 20_000).decode("utf-8", "replace"), language=None)
        elif size_bytes > PREVIEW_LIMIT:
            st.caption("Too large to preview here; download it instead.")
        else:
            st.caption("No preview for this type; download it instead.")
    except ProSyncError as error:
        st.warning(md(error), icon=":material/cloud_off:")
