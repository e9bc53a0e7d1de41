"""The model checks themselves, on the clouds' real published models (botocore's JSON, the google-cloud types)."""

import botocore.session
import pytest
from dojangkok_local.api_models import aws_problems, check_gcp_body

pytestmark = pytest.mark.unit

CODEDEPLOY = botocore.session.get_session().get_service_model("codedeploy")


def test_a_well_formed_codedeploy_request_passes():
    request = {"applicationName": "dojangkok-dev", "deploymentGroupName": "fe-bg", "fileExistsBehavior": "OVERWRITE",
               "revision": {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k", "bundleType": "zip"}}}
    assert aws_problems(request, CODEDEPLOY.operation_model("CreateDeployment").input_shape) == []


def test_codedeploy_requests_outside_the_model_are_named():
    shape = CODEDEPLOY.operation_model("CreateDeployment").input_shape
    found = aws_problems({"applicationName": "", "deploymentGroupNam": "x",
                          "revision": {"revisionType": "S4"}}, shape)
    assert "CreateDeploymentInput: unknown member 'deploymentGroupNam'" in found
    assert any("applicationName: 0 characters is below the minimum 1" in p for p in found)
    assert any("revisionType: 'S4' is not one of S3, GitHub, String, AppSpecContent" in p for p in found)


def test_a_response_outside_the_model_is_named():
    shape = CODEDEPLOY.operation_model("GetDeployment").output_shape
    found = aws_problems({"deploymentInfo": {"status": "Running", "deploymentId": "d-1"}}, shape)
    assert found and "'Running' is not one of" in found[0]


def test_compute_bodies_are_parsed_strictly_and_their_string_enums_checked():
    scheduling = {"onHostMaintenance": "TERMINATE"}
    good = {"name": "t", "properties": {"machineType": "g2-standard-4", "scheduling": scheduling}}
    assert check_gcp_body("compute.instanceTemplates.insert", good, "request") == []
    typo = {"name": "t", "properties": {"machineTyp": "g2-standard-4"}}
    assert "machineTyp" in check_gcp_body("compute.instanceTemplates.insert", typo, "request")[0]
    wrong = {"name": "t", "properties": {"scheduling": {"onHostMaintenance": "STOP"}}}
    assert "'STOP' is not one of MIGRATE, TERMINATE" in check_gcp_body("compute.instanceTemplates.insert", wrong,
                                                                         "request")[0]


def test_cloud_deploy_and_unknown_methods():
    assert check_gcp_body("clouddeploy.releases.get", {"name": "r", "renderState": "SUCCEEDED"}, "response") == []
    assert check_gcp_body("clouddeploy.releases.get", {"name": "r", "colour": "red"}, "response")
    assert "no API model known" in check_gcp_body("compute.instances.delete", {}, "request")[0]
