"""The thin HTTP, WebSocket and SSE edges: parse, call the store, map errors (routes/errors.py)."""
