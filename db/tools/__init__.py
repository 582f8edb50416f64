"""Tooling on top: the `prosync` command (cli.py, one module per command group in commands/), the
demo and benchmark data sets, the benchmark, the load run, backup and restore."""
