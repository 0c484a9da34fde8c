# syntax=docker/dockerfile:1
# calbridge: one image, three services (receiver, processor, renewer) plus the admin commands.
# Build: docker build -t calbridge:0.1.0 .   Run: docker run calbridge:0.1.0 receiver
# The root filesystem is meant to be read-only: outside Kubernetes, point
# CALBRIDGE_DATABASE_URL at PostgreSQL or at an SQLite file on a mounted volume.

# --- builder: has the compilers, builds every dependency into a self-contained venv
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Compilers only for the rare dependency without a wheel for this platform (wheels are preferred).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

# The venv lives at the same path in both stages, so its scripts' shebangs stay valid.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY . .
# pip compiles the bytecode here, so the read-only runtime never needs to write any.
RUN pip install --upgrade pip setuptools wheel \
    && pip install . \
    && pip uninstall -y pip setuptools wheel

# --- runtime: the slim interpreter and the venv, nothing that compiles
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="calbridge" \
      org.opencontainers.image.description="Near-real-time sync between Google Workspace and Microsoft 365 / Exchange calendars" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp

# A fixed numeric user, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
RUN groupadd --system --gid 10001 calbridge \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin calbridge

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
USER 10001:10001

# receiver, processor health/metrics, renewer health/metrics
EXPOSE 8080 9090 9091

ENTRYPOINT ["calbridge"]
CMD ["--help"]
