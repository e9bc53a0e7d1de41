# Dojangkok backend: Spring Boot 3 REST API on Java 21 (seed §7.1, §7.4; DESIGN services table).
# Build context: services/backend.
#   docker build -f dockerfiles/backend.Dockerfile services/backend                  # runtime image
#   docker build -f dockerfiles/backend.Dockerfile --target test services/backend    # runs `mvn test`
# Every base image is an ARG whose default is the production image, so tests can substitute local bases.
ARG MAVEN_IMAGE=maven:3.9-amazoncorretto-21
ARG RUNTIME_IMAGE=amazoncorretto:21-alpine

# Builder stages run on the build machine's own platform: bytecode is portable, so an arm64 image needs no
# emulated Maven. The pom alone decides this layer; ~/.m2 is a cache mount shared by every Maven step.
FROM --platform=$BUILDPLATFORM ${MAVEN_IMAGE} AS deps
WORKDIR /src
COPY pom.xml ./
RUN --mount=type=cache,id=dojangkok-m2,target=/root/.m2,sharing=locked \
    mvn -B -q -Dmaven.repo.local=/root/.m2/repository dependency:go-offline

# `--target test`: the JUnit suite inside the build graph (the pipeline's test step).
FROM deps AS test
COPY src ./src
RUN --mount=type=cache,id=dojangkok-m2,target=/root/.m2,sharing=locked \
    mvn -B -Dmaven.repo.local=/root/.m2/repository test \
 # JUnit reports at /reports: the pipeline exports them (dagger call test reports).
 && mkdir -p /reports && cp target/surefire-reports/*.xml /reports/

# Tests run in the `test` target; packaging skips them so an image build does not pay for them twice.
# The fat jar is split into Spring Boot's layers: dependencies change rarely, application on every commit.
FROM deps AS build
COPY src ./src
RUN --mount=type=cache,id=dojangkok-m2,target=/root/.m2,sharing=locked \
    mvn -B -q -Dmaven.repo.local=/root/.m2/repository -DskipTests package \
    && java -Djarmode=tools -jar target/app.jar extract --layers --destination target/extracted

FROM ${RUNTIME_IMAGE} AS runtime
WORKDIR /app
COPY --from=build /src/target/extracted/dependencies/ ./
COPY --from=build /src/target/extracted/spring-boot-loader/ ./
COPY --from=build /src/target/extracted/snapshot-dependencies/ ./
COPY --from=build /src/target/extracted/application/ ./
# Heap as a share of the container's memory limit, not of the host's: 25% of the 2 GB task is the 512 MB heap
# sized in seed §8.3, leaving room for metaspace, threads and GC. Die on OOM so the orchestrator restarts us.
ENV JAVA_TOOL_OPTIONS="-XX:InitialRAMPercentage=25 -XX:MaxRAMPercentage=25 -XX:+ExitOnOutOfMemoryError"
# No RUN in this stage: an arm64 image is assembled without emulating a single arm64 instruction.
# A numeric user with no passwd entry: no useradd/adduser step, whose flags differ between the alpine
# (busybox) production base and Debian stand-ins. The app files stay root-owned, so the process cannot alter them.
USER 10001:10001
EXPOSE 8080
# amazoncorretto:*-alpine has busybox wget but no curl; Debian-based JDK images have curl but often no wget.
# Try one, then the other; both exit non-zero on a 503 (health DOWN) or no answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "wget -q -O /dev/null http://127.0.0.1:8080/actuator/health || curl -fsS -o /dev/null http://127.0.0.1:8080/actuator/health"]
ENTRYPOINT ["java", "-jar", "app.jar"]
