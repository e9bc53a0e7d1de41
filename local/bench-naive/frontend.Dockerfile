# Benchmark baseline only: the frontend as a naive single-stage image (sources, dev dependencies and build
# output all in the runtime image). scripts/bench-build compares its size with dockerfiles/frontend.Dockerfile.
ARG NODE_IMAGE=node:20-alpine
FROM ${NODE_IMAGE}
WORKDIR /app
COPY . .
RUN npm ci && npm run build
EXPOSE 3000
CMD ["npm", "start"]
