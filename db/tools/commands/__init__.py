"""The `prosync` commands, one module per group (as paperless-ngx keeps a management command per
file): each has its command functions and an `add(commands)` that registers their parsers.
A new command goes into its group's module, or a new module listed in db/tools/cli.py."""
