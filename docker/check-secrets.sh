#!/bin/sh
# Entrypoint guard for every compose service: refuse to start while a secret named in
# CARPRICE_REQUIRED_SECRETS is empty or still the .env.example placeholder ("change-me…").
set -eu
for name in ${CARPRICE_REQUIRED_SECRETS:-}; do
  eval "value=\${$name:-}"
  case "$value" in
    "" | change-me*)
      echo "refusing to start: $name is empty or still the .env.example placeholder;" \
        "set a real value in .env (see README, compose section)" >&2
      exit 64
      ;;
  esac
done
exec "$@"
