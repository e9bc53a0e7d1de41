# Stand-in for python:3.11-slim (and the vLLM base): Debian's Python 3.11 with pip, as `python` too.
ARG DEBIAN_IMAGE=debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip python3-venv python-is-python3 \
 && rm -rf /var/lib/apt/lists/*
# Debian marks its Python as externally managed; the official images do not.
ENV PIP_BREAK_SYSTEM_PACKAGES=1
# The module's runtime runs on this base, a container per function call. Where the host trusts extra CAs (this
# machine's egress CA), the engine adds them around every exec in a Debian container: it runs update-ca-certificates
# twice when the image has it (about 1.3 s an exec) and appends them to the bundle when it does not (0.1 s).
RUN rm /usr/sbin/update-ca-certificates
