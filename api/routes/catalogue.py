"""Browse the served model's vehicle catalogue: brand → model → variant, with typical specs.

The catalogue travels with the model, so these lists change when a new champion goes live.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from api.deps import ServedModel
from api.schemas import CatalogueBrand, CatalogueModel, CatalogueVariant, ErrorBody
from carprice.catalogue import NotInCatalogue

router = APIRouter(
    prefix="/catalogue",
    tags=["catalogue"],
    responses={
        404: {"model": ErrorBody, "description": "Brand or model not in the catalogue."},
        503: {"model": ErrorBody, "description": "No model loaded yet."},
    },
)


def _not_found(exc: NotInCatalogue) -> HTTPException:
    return HTTPException(status_code=404, detail=str(exc))


@router.get("/brands", response_model=list[CatalogueBrand])
async def brands(served: ServedModel) -> list[dict[str, Any]]:
    """Every brand the model knows, with its model and listing counts."""
    return served.model.catalogue.brands()


@router.get("/{brand}/models", response_model=list[CatalogueModel])
async def models(brand: str, served: ServedModel) -> list[dict[str, Any]]:
    """A brand's models with typical specs, years and counts (case-insensitive)."""
    try:
        return served.model.catalogue.models(brand)
    except NotInCatalogue as exc:
        raise _not_found(exc) from exc


@router.get("/{brand}/{model}/variants", response_model=list[CatalogueVariant])
async def variants(brand: str, model: str, served: ServedModel) -> list[dict[str, Any]]:
    """A model's variants with typical specs (the values a quote is filled with), the fuels
    and transmissions seen, years and listing counts."""
    try:
        return served.model.catalogue.variants(brand, model)
    except NotInCatalogue as exc:
        raise _not_found(exc) from exc
