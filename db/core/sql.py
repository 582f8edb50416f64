"""Small helpers shared by the data-access modules: turning driver errors into domain errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import psycopg
from sqlalchemy.exc import DBAPIError, IntegrityError

from db.core.errors import (
    Conflict,
    DatabaseUnavailable,
    DuplicateContent,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProSyncError,
)

# Constraint name -> what a person should be told. Unlisted constraints get a generic message.
CONSTRAINT_MESSAGES: Mapping[str, tuple[type[ProSyncError], str]] = {
    "users_login_lower_key": (Conflict, "A user with this e-mail address already exists."),
    "users_login_email_check": (InvalidInput, "The e-mail address is not valid."),
    "users_display_name_check": (
        InvalidInput,
        "The display name must be 1 to 200 characters without leading or trailing spaces.",
    ),
    "projects_name_live_key": (Conflict, "A project with this name already exists."),
    "projects_name_check": (
        InvalidInput,
        "The project name must be 1 to 200 characters without leading or trailing spaces.",
    ),
    "projects_description_length": (
        InvalidInput,
        "The description is longer than 10,000 characters.",
    ),
    "projects_owner_has_owner_role": (
        Conflict,
        "A project must keep its owner: transfer ownership before removing the owner role.",
    ),
    "tag_reference_category_name_key": (
        Conflict,
        "A tag with this name already exists in this category.",
    ),
    "tag_reference_name_check": (InvalidInput, "A tag name must be 1 to 60 characters."),
    "tag_reference_category_check": (
        InvalidInput,
        "A category is 1 to 40 lowercase letters, digits, '-' or '_', starting with a letter.",
    ),
    "tag_reference_color_check": (InvalidInput, "A colour is written #rrggbb in lowercase hex."),
    "project_access_role_fkey": (InvalidInput, "There is no such role."),
    "project_access_pkey": (Conflict, "This user is already a member; change their role instead."),
    "document_registry_project_checksum_key": (
        DuplicateContent,
        "This file is already in this project (check its documents and its trash).",
    ),
    "idx_documents_ingest_checksum": (
        DuplicateContent,
        "This file is already waiting for review in this project.",
    ),
    "contents_size_positive": (InvalidInput, "The file is empty."),
    "contents_checksum_sha256": (InvalidInput, "The checksum must be a SHA-256 in lowercase hex."),
    "documents_description_length": (InvalidInput, "The description is longer than 10,000 characters."),
    "documents_ingest_notes_length": (InvalidInput, "Notes are longer than 10,000 characters."),
    "documents_name_check": (
        InvalidInput,
        "A file name must be 1 to 255 characters with no '/', '\\' or control characters.",
    ),
    "documents_ingest_name_check": (
        InvalidInput,
        "A file name must be 1 to 255 characters with no '/', '\\' or control characters.",
    ),
    "documents_ingest_rejection_reason": (InvalidInput, "A rejection needs a reason."),
    "documents_ingest_metadata_object": (InvalidInput, "Metadata must be a JSON object."),
    "documents_metadata_object": (InvalidInput, "Metadata must be a JSON object."),
    "documents_ingest_detected_mime_fkey": (
        InvalidInput,
        "This file type is not known to ProSync.",
    ),
    "documents_mime_type_fkey": (InvalidInput, "This file type is not known to ProSync."),
    "sessions_expiry_after_creation": (InvalidInput, "A session must expire after it starts."),
}


LOST = ("57P01", "57P02", "57P03")  # admin shutdown, crash shutdown, cannot connect now


def require_id(value: object, what: str) -> int:
    """A row id from a caller: InvalidInput unless a whole number, NotFound when no bigint can be it
    (so a wrong type or a huge number never reaches SQL as a driver error)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"The {what} must be given by its id, a whole number.")
    if not -(2**63) <= value < 2**63:
        raise NotFound(f"There is no such {what}.")
    return value


def require_text(value: object, what: str) -> str:
    """Text from a caller: InvalidInput unless a string without NUL (which PostgreSQL cannot store)."""
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput(f"The {what} must be text without NUL characters.")
    return value


def id_list(values: Sequence[int], what: str = "An id") -> list[int]:
    """Ids for `= any(:ids)`: InvalidInput unless whole numbers; one out of range is simply not found."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise InvalidInput(f"{what} must be a whole number.")
    return [v for v in values if -(2**63) <= v < 2**63]


def constraint_name(error: DBAPIError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


@contextmanager
def domain_errors(default: str = "The change was refused by the database.") -> Iterator[None]:
    """Translate integrity errors into domain errors with a message a person can act on.

    The refused statement aborts the caller's transaction, which then rolls back as a whole:
    nothing of the unit of work is left half-written.
    """
    try:
        yield
    except UnicodeEncodeError as error:  # a lone surrogate in text sent to the server
        raise InvalidInput("A text holds characters that are not valid Unicode.") from error
    except IntegrityError as error:
        name = constraint_name(error)
        kind, message = CONSTRAINT_MESSAGES.get(name or "", (InvalidInput, f"{default} ({name})"))
        raise kind(message) from error
    except DBAPIError as error:
        sqlstate = getattr(error.orig, "sqlstate", "") or ""
        # The server went away mid-transaction (terminated, restarted, failed over, network cut).
        # Before COMMIT nothing was written; if it happened during COMMIT the outcome is unknown.
        if error.connection_invalidated or sqlstate.startswith("08") or sqlstate in LOST:
            raise DatabaseUnavailable(
                "The connection to the database was lost and the change was not confirmed:"
                " reload to see what was saved, then try again."
            ) from error
        # ProSync's own functions refuse with a message for the person (revision 0016): PS403 for
        # "not allowed", PS400 for bad input.
        if sqlstate in ("PS403", "PS400"):
            message = getattr(getattr(error.orig, "diag", None), "message_primary", None) or default
            raise (PermissionDenied if sqlstate == "PS403" else InvalidInput)(message) from error
        # A row-level security policy refused the row. (A missing grant has the same SQLSTATE but
        # is a deployment's fault, not the person's: it goes on up as it is.)
        if sqlstate == "42501" and "row-level security" in str(error.orig):
            raise PermissionDenied("Your role in this project does not allow this change.") from error
        if not sqlstate and isinstance(error.orig, psycopg.DataError):  # refused before it was sent
            raise InvalidInput("A text holds a NUL character, which cannot be stored.") from error
        if sqlstate.startswith("22"):  # data exception: out of range, bad encoding, bad json
            raise InvalidInput("A value is out of range or malformed.") from error
        if sqlstate == "23514":
            name = constraint_name(error)
            kind, message = CONSTRAINT_MESSAGES.get(name or "", (InvalidInput, default))
            raise kind(message) from error
        raise
