# syntax=docker/dockerfile:1
#
# aor-processor container: `docker build -t aor-processor:0.1.0 .`
#
# The base image is pinned by tag. Pin it by digest as well where a registry is reachable
# (`docker buildx imagetools inspect python:3.11.14-slim-bookworm`, then
# `--build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>`); the machines
# this file was written on have no Docker engine to resolve one.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---- builder: a virtualenv with aor-processor and its dependencies (binary wheels only:
# confluent-kafka bundles librdkafka, fastavro and pydantic-core ship manylinux wheels).
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ONLY_BINARY=confluent-kafka,fastavro,pydantic-core
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY processor ./processor
# Non-editable install; byte-code is compiled here because the runtime root file system
# is read-only in Kubernetes.
RUN /opt/venv/bin/pip install . \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
    && /opt/venv/bin/aor-processor --version

# ---- runtime: the virtualenv, the Avro contract and the bundled sample; no build tools.
FROM ${PYTHON_IMAGE} AS runtime
# A numeric, non-root user: Kubernetes' runAsNonRoot can verify it (deploy/k8s uses 10001).
RUN groupadd --system --gid 10001 aor \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin aor
COPY --from=builder /opt/venv /opt/venv
COPY schemas /app/schemas
COPY samples /app/samples
WORKDIR /app
# AOR_SCHEMAS_DIR: the codec's .avsc files (processor/codec/schemas.py).
# AOR_METRICS_PORT: /metrics, /healthz and /readyz (processor/runtime/metrics.py).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AOR_SCHEMAS_DIR=/app/schemas \
    AOR_METRICS_PORT=9108
USER 10001:10001
EXPOSE 9108
# Liveness of `run`: /healthz answers 200 while the main loop turns (503 once it stalls).
# There is no curl in the slim image; Python's urllib raises (exit 1) on anything but 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('AOR_METRICS_PORT', '9108'), timeout=4)"]
# exec form: the processor is PID 1 and gets SIGTERM itself (it drains and exits 0).
ENTRYPOINT ["aor-processor"]
CMD ["run"]
