# syntax=docker/dockerfile:1
# Builder: a venv with the bot and its dependencies, so the runtime stage needs no compiler or pip cache.
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, so code changes don't re-download them: exactly the versions in the lock file, each checked
# against its recorded hash (refresh the lock as the README says). Then the bot itself, and a check that the locked
# versions satisfy its pyproject.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-deps . && pip check

FROM python:3.11-slim
# ca-certificates: the OpenAI SDK's httpx2 uses the system trust store.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --home-dir /app threadpaint \
    && mkdir -p /app/data && chown threadpaint /app/data && chmod 700 /app/data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER threadpaint
# The settings' relative defaults (DATABASE_URL=sqlite:///data/threadpaint.db, HEALTH_FILE=data/threadpaint.health),
# the same ones .env.example ships, resolve from here into the volume, so an --env-file made from .env.example
# cannot move the database off it.
WORKDIR /app
VOLUME ["/app/data"]
# Healthy while every gateway shard is connected and the database answers: through /healthz when METRICS_PORT is
# set, otherwise from the health file the bot rewrites every 10 s (missing, stale or failing means unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-m", "bot", "health"]
# The bot handles SIGTERM itself (closes Discord, the database and OpenAI cleanly) within Docker's 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
