"""Files: object storage (a folder or S3), what a file is from its bytes, previews in worker
processes, ingest (upload, approve, reject, purge across store and database) and reconcile."""
