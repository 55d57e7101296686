"""The HTTP API: FastAPI routers behind a pure ASGI fast-read layer."""
