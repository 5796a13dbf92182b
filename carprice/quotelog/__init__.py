"""The quote log: every priced row with its id, every refused row with its reason, and the
sale prices matched to quotes.

* `models`: the tables (SQLAlchemy 2 ORM); `migrations/`: their Alembic history, run on
  start-up by `store.migrate`.
* `store`: reads and writes (idempotent quote and refusal inserts, sales with their
  correction history, counts for monitoring).
* `spool`: JSON-lines files that hold rows while the database is unreachable.
* `writer`: the background writer the request path hands quotes and refusals to (batching,
  spooling, replay); `process`: the same writer run in a child process, fed through a pipe,
  so writing never holds the API's GIL (the default).
* `records`: quote ids, quote rows built from priced frames, refusal rows; `sales`: sale
  checks and CSV rows.
"""
