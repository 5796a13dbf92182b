"""CarPrice domain package: schema, cleaning, features, training, evaluation, registry,
explanations.

Services (API, dashboard, Airflow) import from here; nothing in this package imports them.
"""

__version__ = "0.1.0"
