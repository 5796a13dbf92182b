"""What the served model is and what it accepts: the dashboard builds its forms from this."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServedModel
from api.schemas import ErrorBody, EvaluationReport, FeatureSpec, Importance, ModelInfo
from carprice.schema import CATEGORY_CHOICES, NUMERIC_RANGES, OWNER_LABELS, CarFeatures

router = APIRouter(prefix="/model", tags=["model"], responses={503: {"model": ErrorBody}})


def _features(served: ServedModel) -> list[FeatureSpec]:
    pipeline = served.model.pipeline
    fields = CarFeatures.model_fields
    specs = []
    for name, info in fields.items():
        spec = FeatureSpec(
            name=name,
            kind="number"
            if name in NUMERIC_RANGES
            else "category"
            if name in ("brand", "owner", *CATEGORY_CHOICES)
            else "text",
            required=info.is_required(),
            description=info.description,
        )
        if name in NUMERIC_RANGES:
            r, seen = NUMERIC_RANGES[name], pipeline.ranges.get(name, {})
            spec.unit, spec.min, spec.max = r.unit, r.low, r.high
            spec.train_min, spec.train_max = seen.get("min"), seen.get("max")
            spec.train_median = pipeline.medians.get(name)
        elif name == "brand" or name in CATEGORY_CHOICES:
            spec.allowed = pipeline.display_values(name)
        elif name == "owner":
            spec.allowed = list(OWNER_LABELS)
        specs.append(spec)
    return specs


@router.get("/info", response_model=ModelInfo)
async def model_info(served: ServedModel) -> ModelInfo:
    """Name, version, training date and data, test metrics, and every input with its range and
    allowed values."""
    model = served.model
    info = served.registry_info
    tags = info.get("tags", {})
    table = model.comparables
    by_brand: dict[str, list[str]] = {}
    if not table.empty:
        display = model.pipeline.brand_display
        keys = table["brand"].str.lower().map(display).fillna(table["brand"])
        for brand, models in table.groupby(keys)["model"]:
            by_brand[str(brand)] = sorted(models.dropna().astype(str).unique())
    return ModelInfo(
        name=served.name,
        version=served.version,
        alias=served.alias,
        trained_at=info.get("trained_at") or info.get("created_at"),
        registered_at=info.get("created_at"),
        loaded_at=served.loaded_at,
        run_id=info.get("run_id"),
        gate={k.removeprefix("gate."): v for k, v in tags.items() if k.startswith("gate.")},
        data=model.summary,
        metrics={k: float(v) for k, v in model.metrics.items()},
        interval_level=model.calibration.level,
        features=_features(served),
        brands=model.pipeline.display_values("brand"),
        models_by_brand=by_brand,
        example=CarFeatures.model_config["json_schema_extra"]["examples"][0],
    )


@router.get("/importance", response_model=Importance)
async def importance(served: ServedModel) -> Importance:
    """Global feature importance (mean |SHAP| over training rows, log-price units)."""
    return Importance(model_version=served.version, importance=served.model.importance)


@router.get("/report", response_model=EvaluationReport)
async def report(served: ServedModel) -> EvaluationReport:
    """Where the served model errs: held-out test error by brand, price decile, fuel, age band
    and seen vs unseen variant, with row counts."""
    return EvaluationReport(model_version=served.version, rows=served.model.report)
