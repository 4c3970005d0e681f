# orderlog: a small image of the server alone (Redis runs in its own container: REDIS_URL).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# The build context minus .dockerignore: pyproject.toml, README.md, src/ and static/ (the
# dashboards). Installed in place (-e) because app.py serves static/ from beside src/.
COPY . .
RUN pip install -e . && useradd --system --uid 10001 --home /app orderlog
USER orderlog

ENV ORDERLOG_HOST=0.0.0.0 ORDERLOG_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# The command the test suite runs (tests/test_processes.py, tests/test_cli.py).
CMD ["orderlog", "serve"]
