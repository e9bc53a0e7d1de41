# syntax=docker/dockerfile:1
# Dojangkok AI server (FastAPI, port 8100). Build context: services/ai-server.
#
#   docker build -f dockerfiles/ai-server.Dockerfile services/ai-server                 # the runtime image
#   docker build -f dockerfiles/ai-server.Dockerfile --target test services/ai-server   # run its pytest suite
#
# The runtime is a single stage (seed §7.4); the test stage beside it shares the base and the dependency layer
# recipe but never reaches the runtime image. PYTHON_IMAGE defaults to production's python:3.11-slim and may be
# swapped for a Debian base with python3 and pip: every RUN uses `python3 -m pip` and useradd, true on both.
# No --platform here: the build's platform comes from the service catalogue (linux/arm64 in production), and the
# multi-arch base lets the same file build natively on a developer's x86_64 machine.
ARG PYTHON_IMAGE=python:3.11-slim

# --- test: the service's own tests, in the same build graph -------------------------------------------------------
FROM ${PYTHON_IMAGE} AS test
# PIP_BREAK_SYSTEM_PACKAGES: a no-op on python:3.11-slim; lets a Debian python3 (PEP 668) base install too.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1
WORKDIR /app
COPY requirements.txt requirements-dev.txt ./
RUN python3 -m pip install --no-cache-dir -r requirements-dev.txt
COPY . .
# JUnit report at /reports: the pipeline exports it (dagger call test reports).
RUN python3 -m pytest --junitxml=/reports/ai-server.xml

# --- runtime (default target) ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
# Dependencies before sources: editing the code does not reinstall them.
COPY requirements.txt ./
RUN python3 -m pip install --no-cache-dir -r requirements.txt
COPY main.py ./
COPY aiserver/ ./aiserver/
# The seed knowledge base, loadable with `python3 -m aiserver.knowledge knowledge/seed.jsonl`.
COPY knowledge/ ./knowledge/
USER 10001:10001
EXPOSE 8100
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8100/health', timeout=4)"]
# Idle connections outlive the load balancer's (Google's: 600 s; uvicorn's default is 5 s), so the balancer never
# reuses one the server is closing: that race drops requests during every roll-out.
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8100", "--timeout-keep-alive", "620"]
