"""Dojangkok's delivery pipeline: build, test, publish and deploy its services on AWS and GCP.

The Dagger module's main object is dojangkok.main.Dojangkok (the entry point in ci/pyproject.toml); the other
modules are plain Python and import without it.
"""
