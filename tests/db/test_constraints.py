"""Every constraint of the model refuses a bad row, and the person gets a message they can act on."""

import pytest
from sqlalchemy import text

from db.core.errors import Conflict, DuplicateContent, InvalidInput
from db.core.sql import CONSTRAINT_MESSAGES, domain_errors
from tests.conftest import make_project, make_staged, make_user

# Constraints that guard what only migrations, triggers or the data-access layer itself write (never
# a person's input): a violation there is a bug, and the generic message is right for it.
INTERNAL = {
    "access_role_reference_rank_check", "access_role_reference_rank_key",
    "access_role_reference_role_check", "audit_log_action_check", "contents_object_key_check",
    "project_totals_project_key",  # only REFRESH writes the materialized totals
    "contents_storage_code_object_key_key", "document_history_operation_check",
    "documents_ingest_reviewed_when_decided", "documents_ingest_status_check",
    "filetype_reference_extensions_check", "filetype_reference_max_size_bytes_check",
    "filetype_reference_mime_type_check", "partition_policy_period_check",
    "project_history_operation_check", "schema_version_direction_check",
    "sessions_last_active_in_lifetime", "sessions_revoke_reason_needs_revocation",
    "sessions_token_hash_key", "sessions_token_hash_length", "sessions_user_agent_length",
    "storage_reference_code_check", "storage_reference_provider_check",
    "storage_reference_one_default", "system_role_reference_role_check",
    "users_password_hash_argon2id",
    # the partition policy: written by the owner's migrations only (revision 0016)
    "partition_policy_parent_is_table", "partition_policy_storage_options_plain",
    # sign-in counters: written by auth.count_sign_in_attempt only (revision 0017)
    "sign_in_attempts_attempts_check", "sign_in_attempts_key_check",
    # API tokens and idempotency keys (revision 0019): db.domain.tokens and db.domain.idempotency
    # check what a person sends (name, scopes, days, key) before the insert; the rest is made there
    "api_tokens_name_text", "api_tokens_known_scopes", "api_tokens_lifetime", "api_tokens_hash_length",
    "api_tokens_prefix_form", "api_tokens_used_in_lifetime", "api_tokens_revoke_reason_needs_revocation",
    "api_tokens_revoke_reason_length", "api_tokens_token_hash_key", "api_idempotency_key_form",
    "api_idempotency_fingerprint_length", "api_idempotency_finished", "api_idempotency_response_size",
    # a document's text (revision 0023): search.store_text cuts text and reason to length first; the
    # registry key exists for the text's foreign key
    "document_text_body_length", "document_text_failure_length", "document_registry_id_project_key",
    "document_text_no_marks",
}  # fmt: skip


def test_every_constraint_has_a_message_or_is_internal(conn):
    names = set(
        conn.execute(
            text(
                "select conname from pg_constraint co join pg_namespace n on n.oid = co.connamespace"
                " join pg_class c on c.oid = co.conrelid"
                " where n.nspname in ('users','auth','projects','documents','staging','audit','system')"
                " and co.contype in ('c', 'u') and not c.relispartition"
                " union select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid"
                " join pg_namespace n on n.oid = c.relnamespace"
                " where i.indisunique and not i.indisprimary and not c.relispartition"
                " and n.nspname in ('users','auth','projects','documents','staging')"
            )
        ).scalars()
    )
    unexplained = names - set(CONSTRAINT_MESSAGES) - INTERNAL
    assert unexplained == set()


@pytest.fixture
def world(conn):
    owner = make_user(conn)
    project = make_project(conn, owner=owner, name="World")
    staged = make_staged(conn, project=project, uploader=owner)
    return {"owner": owner.id, "project": project.id, "staged": staged.id, "checksum": staged.checksum}


BAD_ROWS = [
    # (constraint, statement breaking it directly in the database, expected error)
    ("users_login_email_check", "update users.users set login = 'nope' where id = :owner", InvalidInput),
    ("users_login_lower_key",
     "insert into users.users (login, display_name, password_hash)"
     " select upper(login), 'Twin', password_hash from users.users where id = :owner", Conflict),
    ("users_display_name_check",
     "update users.users set display_name = ' x' where id = :owner", InvalidInput),
    ("projects_name_check", "update projects.projects set name = '' where id = :project", InvalidInput),
    ("projects_name_live_key",
     "insert into projects.projects (name, owner_id) values ('world', :owner)", Conflict),
    ("projects_description_length",
     "update projects.projects set description = repeat('x', 10001) where id = :project", InvalidInput),
    ("tag_reference_category_name_key",
     "insert into projects.tag_reference (name, category) values ('engineering', 'team')", Conflict),
    ("tag_reference_name_check",
     "insert into projects.tag_reference (name, category) values ('', 'team')", InvalidInput),
    ("tag_reference_category_check",
     "insert into projects.tag_reference (name, category) values ('x', 'Bad Category')", InvalidInput),
    ("tag_reference_color_check",
     "insert into projects.tag_reference (name, category, color) values ('x', 'team', 'red')", InvalidInput),
    ("project_access_role_fkey",
     "update projects.project_access set role = 'emperor' where project_id = :project", InvalidInput),
    ("project_access_pkey",
     "insert into projects.project_access (project_id, user_id, role) values (:project, :owner, 'viewer')",
     Conflict),
    ("contents_size_positive",
     "insert into documents.contents values (repeat('a', 64), 0, 'local', 'k')", InvalidInput),
    ("contents_checksum_sha256",
     "insert into documents.contents values ('abc', 1, 'local', 'k')", InvalidInput),
    ("document_registry_project_checksum_key",
     "insert into documents.document_registry (project_id, checksum) values (:project, :checksum),"
     " (:project, :checksum)", DuplicateContent),
    ("idx_documents_ingest_checksum",
     "insert into staging.documents_ingest (project_id, original_name, detected_mime, checksum)"
     " values (:project, 'again.pdf', 'application/pdf', :checksum)", DuplicateContent),
    ("documents_ingest_name_check",
     "update staging.documents_ingest set original_name = 'a/b' where id = :staged", InvalidInput),
    ("documents_ingest_rejection_reason",
     "update staging.documents_ingest set status = 'rejected', reviewed_at = now() where id = :staged",
     InvalidInput),
    ("documents_ingest_metadata_object",
     "update staging.documents_ingest set metadata = '[1]' where id = :staged", InvalidInput),
    ("documents_ingest_notes_length",
     "update staging.documents_ingest set notes = repeat('x', 10001) where id = :staged", InvalidInput),
    ("documents_ingest_detected_mime_fkey",
     "update staging.documents_ingest set detected_mime = 'application/x-nope' where id = :staged",
     InvalidInput),
    ("documents_name_check",
     "insert into documents.documents (project_id, name, mime_type, checksum)"
     " values (:project, '..', 'application/pdf', :checksum)", InvalidInput),
    ("documents_metadata_object",
     "insert into documents.documents (project_id, name, mime_type, checksum, metadata)"
     " values (:project, 'ok.pdf', 'application/pdf', :checksum, '\"s\"')", InvalidInput),
    ("documents_description_length",
     "insert into documents.documents (project_id, name, mime_type, checksum, description)"
     " values (:project, 'ok.pdf', 'application/pdf', :checksum, repeat('x', 10001))", InvalidInput),
    ("documents_mime_type_fkey",
     "insert into documents.documents (project_id, name, mime_type, checksum)"
     " values (:project, 'ok.pdf', 'application/x-nope', :checksum)", InvalidInput),
    ("sessions_expiry_after_creation",
     "insert into auth.sessions (user_id, token_hash, expires_at)"
     " values (:owner, sha256('t'), now() - interval '1 day')", InvalidInput),
]  # fmt: skip


@pytest.mark.parametrize(("constraint", "statement", "error"), BAD_ROWS, ids=[r[0] for r in BAD_ROWS])
def test_the_database_refuses_a_bad_row_with_a_clear_domain_error(conn, world, constraint, statement, error):
    kind, message = CONSTRAINT_MESSAGES[constraint]
    assert kind is error
    with pytest.raises(error) as raised, domain_errors():
        conn.execute(text(statement), world)
    assert str(raised.value) == message
    assert raised.value.__cause__.orig.diag.constraint_name == constraint


def test_every_mapped_constraint_is_exercised():
    assert {r[0] for r in BAD_ROWS} == set(CONSTRAINT_MESSAGES) - {"projects_owner_has_owner_role"}
