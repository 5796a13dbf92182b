"""Alembic migrations of the quote log, shipped in the package and run by `store.migrate`."""
