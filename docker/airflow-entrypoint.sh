#!/bin/sh
# Airflow image entrypoint: the simple auth manager's password file from AIRFLOW_ADMIN_PASSWORD
# (fixed credentials), then the requested airflow command.
set -eu
umask 077
printf '{"admin": "%s"}' "$AIRFLOW_ADMIN_PASSWORD" > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
exec airflow "$@"
