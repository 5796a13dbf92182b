"""The quote log: every priced row with its id, and the sale prices matched to quotes.

* `models`: the tables (SQLAlchemy 2 ORM); `migrations/`: their Alembic history, run on
  start-up by `store.migrate`.
* `store`: reads and writes (idempotent quote inserts, sales with their correction history).
* `spool`: JSON-lines files that hold quotes while the database is unreachable.
* `writer`: the background thread the request path hands quotes to.
* `records`: quote ids and rows built from priced frames; `sales`: sale checks and CSV rows.
"""
