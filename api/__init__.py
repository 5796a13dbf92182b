"""CarPrice pricing API: `uvicorn api.main:app --port 8800`."""
