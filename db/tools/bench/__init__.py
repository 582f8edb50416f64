"""`prosync bench`: every screen's queries timed on the scale data set, as the data-access module
issues them; writes with and without their audit triggers, ingest against raw storage writes.

It prints figures and never fails on timing: targets are shown beside the figures, and a missed one
is a finding to explain in docs/benchmarks.md, not a red test.
"""
