"""Plumbing: settings, the engine and the one way to write (transaction), the embedded server,
domain errors, typed rows, SQL helpers, table definitions, migrations, the server secret."""
