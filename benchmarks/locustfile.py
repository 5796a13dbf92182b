"""Locust users for `benchmarks.bench_load`: a mix of single-car quotes and 1,000-row CSVs.

Payloads come from files the driver writes before the run (BENCH_CARS_JSON, BENCH_CSV), so
every user sends real, valid cars. Rows priced are counted from the responses themselves.
"""

from __future__ import annotations

import json
import os
import random

from locust import HttpUser, between, events, task

CARS: list[dict] = json.loads(open(os.environ["BENCH_CARS_JSON"]).read())  # noqa: SIM115
CSV_BYTES: bytes = open(os.environ["BENCH_CSV"], "rb").read()  # noqa: SIM115
CSV_ROWS = CSV_BYTES.count(b"\n") - 1
ROWS = {"predict": 0, "csv": 0}


class Salesperson(HttpUser):
    wait_time = between(0.0, 0.2)

    @task(9)
    def quote_one(self) -> None:
        with self.client.post("/predict", json=random.choice(CARS), catch_response=True) as r:
            if r.status_code == 200 and "price" in r.json():
                ROWS["predict"] += 1
            else:
                r.failure(f"{r.status_code}: {r.text[:200]}")

    @task(1)
    def quote_lot(self) -> None:
        files = {"file": ("lot.csv", CSV_BYTES, "text/csv")}
        with self.client.post("/predict/csv", files=files, catch_response=True) as r:
            lines = r.text.count("\n") - 1 if r.status_code == 200 else -1
            if lines == CSV_ROWS and ",\r\n" in r.text:  # every row back, error column empty
                ROWS["csv"] += lines
            else:
                r.failure(f"{r.status_code}: {lines} rows back of {CSV_ROWS}")


@events.quitting.add_listener
def _report_rows(environment, **_: object) -> None:  # noqa: ANN001
    out = os.environ.get("BENCH_ROWS_OUT")
    if out:
        with open(out, "w") as fh:
            json.dump(ROWS, fh)
