-- The row is audited, and the audit's capture runs as prosync_owner: in a fresh database's run the
-- routines made since 0016 (audit.via, the audit log's default context) still belong to the login
-- that migrates until the run ends, so they are handed to prosync_owner first (docs/migrations.md).
call system.apply_roles();

-- Scanners write TIFF: black-and-white pages in CCITT Group 4, grey or colour in LZW, Deflate or
-- JPEG, often many pages in one file. Up to 100 MB, as a PDF; the preview shows the first page.
-- A row an operator added for TIFF already is left as they made it.
insert into documents.filetype_reference
    (mime_type, label, category, extensions, allowed, max_size_bytes, previewable) values
    ('image/tiff', 'TIFF image (scans)', 'image', '{tif,tiff}', true, 104857600, true)
on conflict (mime_type) do nothing;
