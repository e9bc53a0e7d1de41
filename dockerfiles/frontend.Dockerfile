# Dojangkok frontend: Next.js server-side rendering on Node 20 (seed §7.1, §7.4; DESIGN services table).
# Build context: services/frontend.
#   docker build -f dockerfiles/frontend.Dockerfile services/frontend                  # runtime image
#   docker build -f dockerfiles/frontend.Dockerfile --target test services/frontend    # runs `npm test`
# The base image is an ARG whose default is the production image, so tests can substitute a local base.
ARG NODE_IMAGE=node:20-alpine

# Builder stages run on the build machine's own platform: `next build` emits JavaScript, and the standalone
# output carries no native module (next.config.mjs keeps sharp out), so an arm64 image needs no emulated build.
# The manifests alone decide this layer; the npm cache is a cache mount.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
RUN --mount=type=cache,id=dojangkok-npm,target=/root/.npm,sharing=locked \
    npm ci --no-audit --no-fund

# `--target test`: the vitest suite inside the build graph (the pipeline's test step).
FROM deps AS test
COPY . .
# JUnit report at /reports: the pipeline exports it (dagger call test reports).
RUN npm test -- --reporter=default --reporter=junit --outputFile.junit=/reports/frontend.xml

FROM deps AS build
COPY . .
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    PORT=3000 \
    HOSTNAME=0.0.0.0
# server.js and the traced node_modules; static assets are not part of the trace and are copied beside it.
COPY --from=build /app/.next/standalone ./
COPY --from=build /app/.next/static ./.next/static
COPY --from=build /app/public ./public
# No RUN in this stage: an arm64 image is assembled without emulating a single arm64 instruction.
# A numeric user with no passwd entry: no useradd/adduser step, whose flags differ between the alpine
# (busybox) production base and Debian stand-ins. Everything stays root-owned and read-only to the app:
# every route is dynamic and images are unoptimised, so Next never writes .next/cache (ISR or next/image
# would need it: mount a writable volume there rather than chown the code).
USER 10001:10001
# Keep idle connections longer than the load balancer does (ALB: 60 s idle timeout; Node's default is 5 s): else the
# balancer can reuse a connection the server is closing at that instant, and a user gets a 502 or a dropped request.
ENV KEEP_ALIVE_TIMEOUT=65000
EXPOSE 3000
# Node itself does the check (global fetch): no wget/curl needed, the same on alpine and Debian bases.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "server.js"]
