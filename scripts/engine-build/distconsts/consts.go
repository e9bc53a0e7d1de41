// Package distconsts holds the fixed paths and names a native engine uses. The released engine
// module refers to it as a nested module the Go module proxy does not serve, so we declare it here.
package distconsts

const (
	EngineContainerName   = "dagger-engine.dev"
	DefaultEngineSockAddr = "unix:///run/dagger/engine.sock"

	RuncPath              = "/usr/local/bin/runc"
	DaggerInitPath        = "/usr/local/bin/dagger-init"
	TiniPath              = "/usr/local/bin/tini"
	EngineDefaultStateDir = "/var/lib/dagger"

	EngineContainerBuiltinContentDir   = "/usr/local/share/dagger/content"
	GoSDKManifestDigestEnvName         = "DAGGER_GO_SDK_MANIFEST_DIGEST"
	PythonSDKManifestDigestEnvName     = "DAGGER_PYTHON_SDK_MANIFEST_DIGEST"
	TypescriptSDKManifestDigestEnvName = "DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST"

	AlpineVersion  = "3.22.1"
	AlpineImage    = "alpine:" + AlpineVersion
	GolangVersion  = "1.26"
	GolangImage    = "golang:" + GolangVersion + "-alpine"
	BusyboxVersion = "1.37.0"
	BusyboxImage   = "busybox:" + BusyboxVersion

	OCIVersionAnnotation   = "org.opencontainers.image.version"
	EngineCustomCACertsDir = "/usr/local/share/ca-certificates"
)
