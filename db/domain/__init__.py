"""The domain's data access, one module per domain: plain functions taking a connection whose
transaction the caller owns; permission checks here, and again by the database."""
