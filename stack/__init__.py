"""The local CarPrice stack as plain processes: `python -m stack up|down|logs|status`.

`up` starts S3 (rclone), MLflow, Airflow, the API and the dashboard under honcho in a
detached supervisor, seeds the lake, trains a first champion through Airflow and returns;
`down` stops everything it started. State lives in one folder (default `.stack/`).
"""
