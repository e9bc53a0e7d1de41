// Builds the Dagger engine, its helpers and a `dagger session` server from the released Go module.
// scripts/engine copies github.com/dagger/dagger@<version> to ./dagger and patches it (engine-patch).
module dojangkok.local/dojangkok-engine

go 1.26.1

require (
	dagger.io/dagger v0.21.8
	github.com/dagger/dagger v0.21.8
	github.com/dagger/dagger/engine/distconsts v0.21.6
	github.com/google/uuid v1.6.0
)

replace (
	github.com/dagger/dagger => ./dagger
	github.com/dagger/dagger/engine/distconsts => ./distconsts
	github.com/vito/dang => ./unavailable/dang
	github.com/vito/dang/v2 => ./unavailable/dang-v2
	github.com/vito/tuist => ./unavailable/tuist
	github.com/vito/tuist/teav1 => ./unavailable/teav1
	// the pinned pre-release is not served; scrub only needs its Reset sequence
	github.com/vito/midterm => github.com/vito/midterm v0.2.4
	// the same pins as the engine's own go.mod
	go.etcd.io/bbolt => go.etcd.io/bbolt v1.4.0-beta.0.0.20260422092123-cd4bafc17e45
	go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc => go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc v0.16.0
	go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp => go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp v0.16.0
	go.opentelemetry.io/otel/log => go.opentelemetry.io/otel/log v0.16.0
	go.opentelemetry.io/otel/sdk/log => go.opentelemetry.io/otel/sdk/log v0.16.0
)
