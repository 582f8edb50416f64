"""ProSync's data-access module: everything that does not know Streamlit, in layers whose imports
point one way, down (docs/architecture.md; tests/test_architecture.py keeps it so):

    core     plumbing: settings, engine and transactions, the embedded server, errors, types, migrate
    domain   the data access, one module per domain (users, sessions, access, projects, tags,
             documents, contents, staging, audit, partitions)
    files    object storage, file checks, previews, ingest, reconcile      } side by side, over domain
    ops      what the ops screen reads, one module per concern           }
    tools    the `prosync` command and what it runs: demo, generate, bench, load, backup
"""
