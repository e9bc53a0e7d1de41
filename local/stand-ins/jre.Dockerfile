# Stand-in for amazoncorretto:21-alpine at run time: Debian's JRE 17 (the backend targets Java 17 bytecode).
ARG DEBIAN_IMAGE=debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl \
 && rm -rf /var/lib/apt/lists/*
