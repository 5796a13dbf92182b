"""The quote log's tables. Alembic's migrations (`migrations/versions`) create them; these
classes are what the code reads and writes, and what a new migration is compared against."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SOURCES = ("predict", "batch", "csv")  # /predict (a single car), /predict/batch, /predict/csv


class Base(DeclarativeBase):
    pass


class Quote(Base):
    """One priced row: what was priced (inputs after the catalogue filled the specs), by which
    model version, for whom, and the price with its interval."""

    __tablename__ = "quotes"

    quote_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUID4 text
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    model_version: Mapped[str] = mapped_column(String(64), index=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    price: Mapped[float] = mapped_column(Float)
    price_low: Mapped[float] = mapped_column(Float)
    price_high: Mapped[float] = mapped_column(Float)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    api_key_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str] = mapped_column(String(16))  # one of SOURCES


class Sale(Base):
    """The price a quoted car really sold for: at most one per quote (corrections replace it
    and keep the earlier value in `SaleHistory`)."""

    __tablename__ = "sales"

    quote_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("quotes.quote_id", ondelete="CASCADE"), primary_key=True
    )
    sale_price: Mapped[float] = mapped_column(Float)
    sold_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    api_key_name: Mapped[str | None] = mapped_column(String(128), nullable=True)


class SaleHistory(Base):
    """A sale value that a correction replaced: what it was, when it was recorded and when it
    was replaced."""

    __tablename__ = "sale_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    quote_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("quotes.quote_id", ondelete="CASCADE"), index=True
    )
    sale_price: Mapped[float] = mapped_column(Float)
    sold_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    api_key_name: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Refusal(Base):
    """One row the service was asked to price and refused with a reason: when, by which model
    version, for whom, why and from which endpoint. No inputs are kept: the row may be
    anything the caller sent (see `carprice.quotelog.records.refusal_rows`)."""

    __tablename__ = "refusals"

    refusal_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUID4 text
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    model_version: Mapped[str] = mapped_column(String(64), index=True)
    api_key_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # one of SOURCES
