"""The API client and its cached reads, shared by the Quote, Batch quotes and Model pages.

`st.cache_resource` holds one client per (URL, key, timeout); `st.cache_data` holds answers
keyed on their inputs (the car, the model version), so a Streamlit rerun never repeats a call.
Model info and the catalogue lists are keyed on the served version, so a new champion shows up.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard.clients.api_client import ApiClient, ApiError
from dashboard.config import get_dashboard_settings


@st.cache_resource(show_spinner=False)
def _client(url: str, timeout: float, key_set: bool) -> ApiClient:
    key = get_dashboard_settings().api_key
    return ApiClient(url, api_key=key.get_secret_value() if key else None, timeout=timeout)


def api_client() -> ApiClient:
    """The process-wide client for the configured API (the key is never a cache key)."""
    s = get_dashboard_settings()
    return _client(s.api_url, s.request_timeout, s.api_key is not None)


@st.cache_data(ttl=5, show_spinner=False)
def health(url: str) -> dict[str, Any]:
    return api_client().health()


@st.cache_data(ttl=300, show_spinner=False)
def model_info(url: str, version: str | None) -> dict[str, Any]:
    return api_client().model_info()


@st.cache_data(ttl=300, show_spinner=False)
def importance(url: str, version: str | None) -> dict[str, Any]:
    return api_client().importance()


# The catalogue travels with the model: its lists are cached per served version, so a new
# champion's catalogue shows up as soon as the API serves it, and never before. A 404 (a
# brand or model the catalogue doesn't list, or an API without a catalogue) is an empty list.
def _listed(read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        return read()
    except ApiError as exc:
        if exc.status == 404:
            return []
        raise


@st.cache_data(max_entries=8, show_spinner=False)
def catalogue_brands(url: str, version: str | None) -> list[dict[str, Any]]:
    return _listed(api_client().catalogue_brands)


@st.cache_data(max_entries=256, show_spinner=False)
def catalogue_models(url: str, version: str | None, brand: str) -> list[dict[str, Any]]:
    return _listed(lambda: api_client().catalogue_models(brand))


@st.cache_data(max_entries=512, show_spinner=False)
def catalogue_variants(url: str, version: str | None, brand: str, model: str) -> list[dict]:
    return _listed(lambda: api_client().catalogue_variants(brand, model))


@st.cache_data(max_entries=256, show_spinner=False)
def quote(url: str, version: str | None, car_json: str, session: str) -> dict[str, Any]:
    """One priced car, logged by the API as a quote with its own id. Keyed on the canonical
    JSON of the inputs and on the browser session (`session_id()`): a rerun shows the same
    quote, but two salespeople pricing the same car get two quotes, each sold on its own."""
    return api_client().predict(json.loads(car_json))


def session_id() -> str:
    """A random id of this browser session, for cache keys that must not cross sessions."""
    return st.session_state.setdefault("pricing_session", uuid.uuid4().hex)


@st.cache_data(max_entries=256, show_spinner=False)
def explore(url: str, version: str | None, car_json: str) -> dict[str, Any]:
    """A variation of a car priced to explore (what-if, the Model page's curves): not a
    quote, so the API logs nothing (record=false) and it has no quote id."""
    return api_client().predict(json.loads(car_json), record=False)


@st.cache_data(max_entries=256, show_spinner=False)
def sweep(url: str, version: str | None, cars_json: str) -> list[dict[str, Any]]:
    """Prices for a list of variations of one car (what-if and dependence curves); not
    quotes (record=false)."""
    return api_client().predict_batch(json.loads(cars_json), record=False)["items"]


def price_chunk(url: str, filename: str, chunk: bytes, mapping_json: str | None = None) -> bytes:
    """One CSV chunk priced with the user's column mapping (JSON, as the API takes it).
    Not cached: Batch quotes keeps the priced lot in the session, so a rerun never re-posts
    it, and a retry must post again rather than get back a garbled answer kept from before."""
    mapping = json.loads(mapping_json) if mapping_json is not None else None
    return api_client().predict_csv(filename, chunk, mapping)


def canonical(car: dict[str, Any]) -> str:
    """Stable JSON for a car (sorted keys, no Nones) to use as a cache key."""
    return json.dumps({k: v for k, v in car.items() if v is not None}, sort_keys=True)


def canonical_list(cars: list[dict[str, Any]]) -> str:
    """Stable JSON for a list of cars (cache key for sweeps)."""
    return "[" + ",".join(canonical(c) for c in cars) + "]"
