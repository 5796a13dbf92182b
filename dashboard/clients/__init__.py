"""HTTP clients for the services the dashboard talks to (API, MLflow, Airflow)."""
