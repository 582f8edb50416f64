create or replace view staging.pending_documents with (security_invoker=true) as
 SELECT i.id,
    i.project_id,
    p.name AS project_name,
    i.original_name,
    i.declared_mime,
    i.detected_mime,
    c.size_bytes,
    i.checksum,
    c.storage_code,
    c.object_key AS s3_key,
    i.notes,
    i.metadata,
    i.uploaded_by,
    u.login AS uploaded_by_login,
    i.uploaded_at
   FROM staging.documents_ingest i
     JOIN projects.projects p ON p.id = i.project_id AND p.deleted_at IS NULL
     JOIN documents.contents c ON c.checksum = i.checksum
     LEFT JOIN users.users u ON u.id = i.uploaded_by
  WHERE i.status = 'pending'::text;
