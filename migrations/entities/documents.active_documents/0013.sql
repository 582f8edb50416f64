create or replace view documents.active_documents with (security_invoker=true) as
 SELECT d.id,
    d.project_id,
    p.name AS project_name,
    d.name,
    d.description,
    d.mime_type,
    f.label AS filetype_label,
    f.category AS filetype_category,
    f.previewable,
    d.checksum,
    c.size_bytes,
    c.storage_code,
    c.object_key,
    d.image_url,
    d.metadata,
    d.uploaded_at,
    d.uploaded_by,
    u.login AS uploaded_by_login,
    d.updated_at
   FROM documents.documents d
     JOIN projects.projects p ON p.id = d.project_id AND p.deleted_at IS NULL
     JOIN documents.contents c ON c.checksum = d.checksum
     JOIN documents.filetype_reference f ON f.mime_type = d.mime_type
     LEFT JOIN users.users u ON u.id = d.uploaded_by
  WHERE d.deleted_at IS NULL;
