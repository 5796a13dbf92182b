#!/bin/sh
# First start of the postgres volume: one role and one database each for MLflow, Airflow and
# the quote log (carprice). A volume created before the quote log existed needs these three
# statements for carprice run once by hand (the image runs this script on a new volume only).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v mlflow_pw="$MLFLOW_DB_PASSWORD" -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
  -v carprice_pw="$QUOTES_DB_PASSWORD" <<'SQL'
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_pw';
CREATE DATABASE mlflow_db OWNER mlflow;
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE carprice LOGIN PASSWORD :'carprice_pw';
CREATE DATABASE carprice OWNER carprice;
SQL
