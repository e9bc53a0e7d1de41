"""Stands in for GCP: a stateful fake of the Compute and Cloud Deploy REST APIs (server: the wire layer; compute,
deploy: the state machines) and the groups a deploy expects (seed). Production never imports it; the google-cloud
clients reach it only through an endpoint."""
