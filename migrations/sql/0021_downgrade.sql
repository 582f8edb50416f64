-- Refused while any document or staged file is a TIFF (their rows name the type): remove those first.
delete from documents.filetype_reference where mime_type = 'image/tiff';
