"""
### batch_quotes

Prices a large CSV from the data lake with the current champion, for files too big for the
browser. Upload it to `{lake_root}/batch/in/<name>.csv` (either the raw car_details_v3
columns, the feature columns, or just name, year, km_driven, fuel, seller_type,
transmission and owner), then trigger with `input_uri`.

**plan → quote_chunk × N → combine**

- **plan** checks the columns, pins the champion's version (every chunk uses the same model)
  and cuts the rows into chunks of `chunk_rows`.
- **quote_chunk** is mapped over the chunks, so they spread over the Airflow workers.
- **combine** writes one CSV to `output_uri` (default `{lake_root}/batch/out/<name>.csv`), in
  input order, every row kept: `predicted_price`, `price_low`, `price_high`,
  `model_version`, `filled` (specs taken from the catalogue) and `error` (why a row could
  not be priced). Text cells that a spreadsheet would run as formulas are prefixed with `'`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from carprice import names
from carprice.settings import get_settings

_settings = get_settings()


@dag(
    dag_id=names.BATCH_DAG,  # == this file's stem
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["carprice", "pricing"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    params={
        "input_uri": Param(
            f"{_settings.lake_root.rstrip('/')}/batch/in/cars.csv",
            type="string",
            minLength=1,
            description="CSV to price (s3:// URI or path under the lake).",
        ),
        "output_uri": Param(
            None,
            type=["null", "string"],
            description="Where to write the priced CSV; empty means batch/out/<input name>.",
        ),
        "chunk_rows": Param(
            5000,
            type="integer",
            minimum=1,
            maximum=1_000_000,
            description="Rows per parallel pricing task.",
        ),
    },
)
def batch_quotes() -> None:
    @task
    def plan() -> list[dict]:
        """Check the file, pin the champion version, write one input file per chunk."""
        from carprice import batch, lake, runlake
        from carprice.settings import get_settings

        context = get_current_context()
        params = context["params"]
        work = lake.join(
            get_settings().lake_root, "batch", "work", runlake.safe_run_id(context["run_id"])
        )
        return batch.plan(params["input_uri"], work, params["chunk_rows"])

    @task
    def quote_chunk(chunk: dict) -> str:
        """Price one chunk with the pinned model version."""
        from carprice import batch

        return batch.quote_chunk(chunk)

    @task
    def combine(outputs: list[str]) -> dict:
        """One CSV in input order; returns the row counts."""
        from carprice import batch
        from carprice.settings import get_settings

        params = get_current_context()["params"]
        output = params["output_uri"] or batch.default_output_uri(
            get_settings().lake_root, params["input_uri"]
        )
        return batch.combine(list(outputs), output)

    combine(quote_chunk.expand(chunk=plan()))


batch_quotes()
