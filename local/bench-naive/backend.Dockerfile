# Benchmark baseline only: the backend as a naive single-stage image (JDK, Maven, local repository and sources
# in the runtime image). scripts/bench-build compares its size with dockerfiles/backend.Dockerfile.
ARG MAVEN_IMAGE=maven:3.9-amazoncorretto-21
FROM ${MAVEN_IMAGE}
WORKDIR /app
COPY . .
RUN mvn -B -q -DskipTests package
EXPOSE 8080
CMD ["java", "-jar", "target/app.jar"]
