"""The pricing API over HTTP (httpx): the only way the dashboard prices a car.

Every failure becomes an `ApiError` whose message a salesperson can act on, so pages show
`st.error(str(exc))` and never a traceback. `ApiError.unreachable` separates "the service is
down" (banner) from "the service refused this input" (a reason next to the form).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote

import httpx


class ApiError(Exception):
    """A call to the pricing API failed; `str(exc)` is the human reason."""

    def __init__(self, message: str, *, status: int | None = None, unreachable: bool = False):
        super().__init__(message)
        self.status = status
        self.unreachable = unreachable


def _detail(response: httpx.Response) -> str:
    """The API's `detail` (plus per-field reasons) if it sent JSON, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:300]
    detail = body.get("detail")
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'input'}: {e.get('msg')}"
            for e in detail
            if isinstance(e, dict)
        )
    return str(detail or body)[:500]


def _segment(value: str) -> str:
    """One URL path segment: 'Land Rover' → 'Land%20Rover' (nothing left to split on)."""
    return quote(value, safe="")


def _moment(value: date | datetime) -> str:
    """A day is its midnight, UTC: 2026-11-30 → '2026-11-30T00:00:00+00:00'."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), UTC)
    return value.isoformat()


class ApiClient:
    """Thin typed wrapper over the pricing API's endpoints; one per dashboard process."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def _request(
        self, method: str, path: str, *, own_503: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """`own_503`: the endpoint's 503 says itself what is down (the quote log's database),
        so its reason is shown as is rather than as "no model to serve"."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiError(
                f"The pricing API at {self.base_url} did not answer in time ({path}).",
                unreachable=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise ApiError(
                f"The pricing API at {self.base_url} is not reachable ({type(exc).__name__}).",
                unreachable=True,
            ) from exc
        if response.status_code >= 400:
            reason = _detail(response)
            if response.status_code == 401:
                reason = f"The API refused the key: {reason}. Set CARPRICE_DASHBOARD_API_KEY."
            elif response.status_code == 503:
                if not own_503:
                    reason = f"The pricing API has no model to serve yet: {reason}"
            elif response.status_code >= 500:
                reason = f"The pricing API failed ({response.status_code}): {reason}"
            raise ApiError(reason, status=response.status_code)
        return response

    def health(self) -> dict[str, Any]:
        """GET /health: status, served version, MLflow reachability."""
        return self._request("GET", "/health").json()

    def model_info(self) -> dict[str, Any]:
        """GET /model/info: version, metrics, data summary, features with ranges and choices."""
        return self._request("GET", "/model/info").json()

    def importance(self) -> dict[str, Any]:
        """GET /model/importance: mean |SHAP| per feature (log-price units)."""
        return self._request("GET", "/model/importance").json()

    def model_report(self) -> dict[str, Any]:
        """GET /model/report: the served model's test error by group."""
        return self._request("GET", "/model/report").json()

    def catalogue_brands(self) -> list[dict[str, Any]]:
        """GET /catalogue/brands: every brand the served model knows, with counts."""
        return self._request("GET", "/catalogue/brands").json()

    def catalogue_models(self, brand: str) -> list[dict[str, Any]]:
        """GET /catalogue/{brand}/models: the brand's models with typical specs (404: unknown)."""
        return self._request("GET", f"/catalogue/{_segment(brand)}/models").json()

    def catalogue_variants(self, brand: str, model: str) -> list[dict[str, Any]]:
        """GET /catalogue/{brand}/{model}/variants: variants with typical specs (404: unknown)."""
        path = f"/catalogue/{_segment(brand)}/{_segment(model)}/variants"
        return self._request("GET", path).json()

    def predict(self, car: dict[str, Any], *, record: bool = True) -> dict[str, Any]:
        """POST /predict: price, range, contributions, comparables, the specs filled from the
        catalogue (`filled`), warnings and the quote id; `record=False` for an exploration
        the API must not log as a quote."""
        params = {} if record else {"record": "false"}
        return self._request("POST", "/predict", json=car, params=params).json()

    def predict_batch(self, cars: list[dict[str, Any]], *, record: bool = True) -> dict[str, Any]:
        """POST /predict/batch: prices only, one item per car in order (what-if sweeps pass
        `record=False`: they are not quotes)."""
        params = {} if record else {"record": "false"}
        return self._request("POST", "/predict/batch", json=cars, params=params).json()

    def predict_csv(
        self, filename: str, content: bytes, mapping: dict[str, str | None] | None = None
    ) -> bytes:
        """POST /predict/csv: the same CSV back with prices and a reason per failed row.
        `mapping` ({header: field, or None to ignore}) is sent as the `mapping` form field,
        so the API reads each column as the user chose rather than by its header alone."""
        files = {"file": (filename, content, "text/csv")}
        data = {"mapping": json.dumps(mapping, ensure_ascii=False)} if mapping is not None else None
        return self._request("POST", "/predict/csv", files=files, data=data).content

    def monitoring_summary(
        self,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        model_version: str | None = None,
    ) -> dict[str, Any]:
        """GET /monitoring/summary: quotes and matched sales in [since, until), live accuracy
        overall/by version/by week, rates, drift and the served model's test figures."""
        params = {
            k: _moment(v) if isinstance(v, date) else v
            for k, v in (("since", since), ("until", until), ("model_version", model_version))
            if v is not None
        }
        return self._request("GET", "/monitoring/summary", params=params, own_503=True).json()

    def _sale(self, method: str, quote_id: str, sale_price: float, sold_on: date) -> dict:
        body = {"sale_price": sale_price, "sold_on": sold_on.isoformat()}
        path = f"/quotes/{_segment(quote_id)}/sale"
        return self._request(method, path, json=body, own_503=True).json()

    def record_sale(self, quote_id: str, sale_price: float, sold_on: date) -> dict[str, Any]:
        """POST /quotes/{id}/sale: the recorded sale beside the quote's price (404 unknown id,
        409 already sold: correct it with `correct_sale`, 422 price <= 0 or a future date)."""
        return self._sale("POST", quote_id, sale_price, sold_on)

    def correct_sale(self, quote_id: str, sale_price: float, sold_on: date) -> dict[str, Any]:
        """PUT /quotes/{id}/sale: replace a recorded sale; the earlier value goes to history."""
        return self._sale("PUT", quote_id, sale_price, sold_on)

    def upload_sales(self, filename: str, content: bytes) -> dict[str, Any]:
        """POST /quotes/sales: `recorded`, `refused` and one {row, quote_id, status, reason}
        per data row of a CSV (quote_id, sale_price, sold_on)."""
        files = {"file": (filename, content, "text/csv")}
        return self._request("POST", "/quotes/sales", files=files, own_503=True).json()

    def close(self) -> None:
        self._http.close()
