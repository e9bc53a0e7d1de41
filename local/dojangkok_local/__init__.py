"""Local stand-ins: engine harness, registry, AWS and GCP emulators."""
