"""The OpenAPI document as the running service behaves, not as its Python types say.

FastAPI derives the document from the code once. What a request may hold also depends on the
served model and the configuration, so the document is rebuilt from that base whenever they
change (a hot swap, a key set or unset):

- the X-API-Key scheme and the 401s appear only when a key is configured;
- brand, fuel, seller type and transmission list the served model's vocabulary as `enum`,
  and a name must start with one of its brands;
- "give a name or a brand" and "give owner_rank or owner" are stated as schema alternatives;
- a spec is a placeholder (≤ 0, filled from the catalogue) or within its plausible range;
- every pricing endpoint declares the 413 of `tabular.UploadLimit`.

Categories are also matched ignoring case and surrounding spaces; the enums give the
canonical spellings, which every client can send.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.keys import key_ring
from carprice.features import FeaturePipeline
from carprice.schema import NUMERIC_RANGES, OWNER_LABELS, SPEC_COLUMNS, TWO_WORD_BRANDS

CAR = "CarFeatures"
CHOICE_FIELDS = ("fuel", "seller_type", "transmission")
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}
_TWO_WORD = {b.lower() for b in TWO_WORD_BRANDS}
_BLANK = {"type": "string", "pattern": r"^\s*$"}


def _letters(text: str) -> str:
    """`text` as an ECMA-262 regex matching it in any case (JSON Schema has no /i flag)."""
    out = []
    for ch in text:
        if ch.lower() != ch.upper():
            out.append(f"[{ch.upper()}{ch.lower()}]")
        elif ch.isspace():
            out.append(r"\s+")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def name_pattern(brand_keys: list[str]) -> str:
    """A listing name whose brand (its first word, or first two for a two-word brand followed
    by more words, as `carprice.clean.split_name` reads it) is one the model knows."""
    alternatives = []
    for key in sorted(brand_keys):
        words = key.split()
        if len(words) == 2 and key in _TWO_WORD:
            alternatives.append(_letters(key) + r"\s+\S[\s\S]*")
        elif len(words) == 1:
            # "Mini Cooper S" is brand "Mini Cooper", not "Mini": exclude those names.
            longer = [b.split()[1] for b in _TWO_WORD if b.split()[0] == key]
            guard = f"(?!\\s+(?:{'|'.join(_letters(w) for w in longer)})\\s+\\S)" if longer else ""
            alternatives.append(_letters(key) + guard + r"(?:\s[\s\S]*)?")
    return r"^\s*(?:" + "|".join(alternatives) + r")$"


def _spec(column: str, base: dict[str, Any]) -> dict[str, Any]:
    r = NUMERIC_RANGES[column]
    kind = "integer" if column == "seats" else "number"
    return {
        "anyOf": [
            {"type": kind, "maximum": 0},
            {"type": kind, "minimum": r.low, "maximum": r.high},
            {"type": "null"},
        ],
        "title": base.get("title", column),
        "description": base.get("description", ""),
    }


def car_schema(base: dict[str, Any], pipeline: FeaturePipeline | None) -> dict[str, Any]:
    """CarFeatures as the served model checks it; without a model, only the static rules."""
    schema = copy.deepcopy(base)
    props = schema["properties"]
    for col in SPEC_COLUMNS:
        props[col] = _spec(col, props[col])
    labels = {"type": "string", "enum": list(OWNER_LABELS)}
    rules: list[dict[str, Any]] = [
        {
            "anyOf": [
                {"required": ["owner_rank"], "properties": {"owner_rank": {"type": "integer"}}},
                {
                    "required": ["owner"],
                    "properties": {"owner": labels, "owner_rank": {"type": "null"}},
                },
            ]
        }
    ]
    if pipeline is not None and pipeline.vocab.get("brand"):
        keys = pipeline.vocab["brand"]
        brands = [pipeline.brand_display.get(k, k) for k in keys]
        props["brand"] = {
            **{k: v for k, v in props["brand"].items() if k != "anyOf"},
            "anyOf": [{"type": "string", "enum": brands}, _BLANK, {"type": "null"}],
        }
        rules.append(
            {
                "anyOf": [
                    {"required": ["brand"], "properties": {"brand": {"enum": brands}}},
                    {
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "pattern": name_pattern(keys)},
                            "brand": {"anyOf": [_BLANK, {"type": "null"}]},
                        },
                    },
                ]
            }
        )
        for col in CHOICE_FIELDS:
            if pipeline.vocab.get(col):
                props[col] = {**props[col], "type": "string", "enum": list(pipeline.vocab[col])}
    schema["allOf"] = rules
    return schema


def _operations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, op) for path, item in doc["paths"].items() for op in item.values()]


def document(base: dict[str, Any], pipeline: FeaturePipeline | None, keyed: bool) -> dict:
    """The served document: `base` (FastAPI's) adjusted to the model and the key setting."""
    doc = copy.deepcopy(base)
    schemas = doc.get("components", {}).get("schemas", {})
    if CAR in schemas:
        schemas[CAR] = car_schema(schemas[CAR], pipeline)
    for path, op in _operations(doc):
        responses = op.setdefault("responses", {})
        if "application/json" in op.get("requestBody", {}).get("content", {}):
            responses.setdefault(
                "400",
                {"description": "The body is not JSON.",
                 "content": {"application/json": {"schema": ERROR_BODY}}},
            )  # fmt: skip
        if path.startswith("/predict"):
            responses.setdefault(
                "413",
                {"description": "Request body above its size limit (the reason names the "
                 "CARPRICE_API_* variable).",
                 "content": {"application/json": {"schema": ERROR_BODY}}},
            )  # fmt: skip
        if not keyed:
            op.pop("security", None)
            responses.pop("401", None)
    if not keyed:
        doc.get("components", {}).pop("securitySchemes", None)
    return doc


def install(app: FastAPI) -> None:
    """Serve `document(...)` at /openapi.json, rebuilt when the model or key setting changes."""
    lock = threading.Lock()
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        runtime = getattr(app.state, "runtime", None)
        served = runtime.current if runtime is not None else None
        keyed = key_ring().configured
        state = (served.version if served else None, keyed)
        with lock:
            if "base" not in cache:
                cache["base"] = get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            if cache.get("state") != state:
                pipeline = served.model.pipeline if served else None
                cache["doc"], cache["state"] = document(cache["base"], pipeline, keyed), state
            return cache["doc"]

    app.openapi = openapi  # type: ignore[method-assign]
