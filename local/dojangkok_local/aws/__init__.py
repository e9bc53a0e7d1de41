"""Stands in for AWS: moto in server mode behind our CodeDeploy front (server, codedeploy) and the infrastructure a
deploy expects (infra). Production never imports it; boto3 reaches it only through an endpoint."""
