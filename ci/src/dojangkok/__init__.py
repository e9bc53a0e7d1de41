"""Dojangkok's delivery pipeline: build, test, publish and deploy its services on AWS and GCP."""

from .main import Dojangkok as Dojangkok
