"""Real traffic for the AWS emulator: the instances CodeDeploy launches run the release (a fleet), and the ALB is
haproxy (a load balancer), both following the emulator's own state in moto.

- Every Auto Scaling instance a deployment creates is a fleet instance; the revision's lifecycle hooks (appspec.yml,
  the production scripts) run on it as the CodeDeploy agent runs them: the bundle unpacked, each event's scripts in
  order, with the agent's environment (LIFECYCLE_EVENT, DEPLOYMENT_ID, …), failing the event on a non-zero exit.
- `sync()` reads moto's listeners and target groups and makes haproxy agree: a registered target fills a slot
  (haproxy's health check, from the target group's settings, admits it), a deregistered one drains for the target
  group's deregistration delay, and a listener forwards where moto says it does.
"""

from __future__ import annotations

import concurrent.futures
import io
import re
import shlex
import time
import zipfile

import boto3
import yaml

from dojangkok_local.fleet import Fleet
from dojangkok_local.lb import HealthCheck, LoadBalancer

AGENT_SKIPS_ON_NEW_INSTANCES = {"ApplicationStop"}  # it runs the previous revision's script; a new instance has none


class HookFailed(RuntimeError):
    def __init__(self, instance: str, event: str, script: str, output: str):
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"{event} {script} failed on {instance}:\n{tail}")
        self.instance, self.event = instance, event


def release_image(bundle: bytes) -> str:
    """The image a revision runs: IMAGE in its release.env (shell-quoted, as the hooks source it)."""
    for line in zipfile.ZipFile(io.BytesIO(bundle)).read("release.env").decode().splitlines():
        if line.startswith("IMAGE="):
            return shlex.split(line.partition("=")[2])[0]
    return ""


def _backend_name(target_group_name: str) -> str:
    return "tg_" + re.sub(r"[^A-Za-z0-9_]", "_", target_group_name)


class AwsTraffic:
    """The fleet and the load balancer of one emulated AWS account and region."""

    def __init__(self, moto_endpoint: str, region: str, fleet: Fleet, balancer: LoadBalancer) -> None:
        self.region = region
        self.fleet = fleet
        self.lb = balancer
        session = boto3.Session(aws_access_key_id="emulator", aws_secret_access_key="emulator")  # noqa: S106
        self.elbv2 = session.client("elbv2", region_name=region, endpoint_url=moto_endpoint)
        self.target_groups: dict[str, str] = {}  # ARN -> backend name
        self.delays: dict[str, float] = {}  # ARN -> deregistration delay (s)
        self.listeners: dict[str, str] = {}  # ARN -> frontend name
        self.ports: dict[str, int] = {}  # listener ARN -> haproxy port on 127.0.0.1

    # ---- before traffic: listeners and target groups as provisioned --------------------------------------------
    def configure(self) -> None:
        """One backend per target group and one frontend per listener, from moto; call before the balancer starts."""
        for group in self.elbv2.describe_target_groups()["TargetGroups"]:
            arn, name = group["TargetGroupArn"], group["TargetGroupName"]
            attributes = {a["Key"]: a["Value"] for a in self.elbv2.describe_target_group_attributes(
                TargetGroupArn=arn)["Attributes"]}
            self.delays[arn] = float(attributes.get("deregistration_delay.timeout_seconds", 300))
            self.target_groups[arn] = _backend_name(name)
            health = HealthCheck(group.get("HealthCheckPath", "/"), float(group.get("HealthCheckIntervalSeconds", 30)),
                                 int(group.get("HealthyThresholdCount", 5)),
                                 int(group.get("UnhealthyThresholdCount", 2)),
                                 float(group.get("HealthCheckTimeoutSeconds", 5)))
            self.lb.add_backend(self.target_groups[arn], int(group["Port"]), health)
        for balancer in self.elbv2.describe_load_balancers()["LoadBalancers"]:
            for listener in self.elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]:
                arn = listener["ListenerArn"]
                self.listeners[arn] = "fe_" + arn.rsplit("/", 1)[-1]
                self.ports[arn] = self.lb.add_frontend(self.listeners[arn], self.target_groups[self._forward(arn)])

    def _forward(self, listener: str) -> str:
        found = self.elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]
        action = next(a for a in found["DefaultActions"] if a["Type"] == "forward")
        return action.get("TargetGroupArn") or action["ForwardConfig"]["TargetGroups"][0]["TargetGroupArn"]

    # ---- the emulator's hooks -------------------------------------------------------------------------------
    def launch(self, instances: list[str]) -> None:
        with concurrent.futures.ThreadPoolExecutor(len(instances) or 1) as pool:
            list(pool.map(self.fleet.launch, instances))

    def run_event(self, deployment: dict, event: str, bundle: bytes, instances: list[str]) -> None:
        """The event's scripts on every instance at once (CodeDeployDefault.AllAtOnce); the first failure raises."""
        if event in AGENT_SKIPS_ON_NEW_INSTANCES:
            return
        appspec = yaml.safe_load(zipfile.ZipFile(io.BytesIO(bundle)).read("appspec.yml"))
        scripts = (appspec.get("hooks") or {}).get(event) or []
        if not scripts:
            return
        with concurrent.futures.ThreadPoolExecutor(len(instances) or 1) as pool:
            list(pool.map(lambda i: self._run_scripts(deployment, event, bundle, scripts, i), instances))

    def _run_scripts(self, deployment: dict, event: str, bundle: bytes, scripts: list[dict], name: str) -> None:
        instance = self.fleet.instances[name]
        archive = instance.root / "deployment-root" / deployment["deploymentId"] / "deployment-archive"
        if not archive.exists():
            archive.mkdir(parents=True)
            zipfile.ZipFile(io.BytesIO(bundle)).extractall(archive)
            for path in archive.rglob("*.sh"):
                path.chmod(0o755)
        instance.release = release_image(bundle)
        env = {
            "LIFECYCLE_EVENT": event,
            "DEPLOYMENT_ID": deployment["deploymentId"],
            "APPLICATION_NAME": deployment["applicationName"],
            "DEPLOYMENT_GROUP_NAME": deployment["deploymentGroupName"],
        }
        for script in scripts:
            result = instance.run(archive / script["location"].lstrip("/"), env=env, cwd=archive,
                                  timeout=float(script.get("timeout", 3600)))
            if result.returncode != 0:
                raise HookFailed(name, event, script["location"], result.stdout + result.stderr)

    def sync(self) -> None:
        """Make haproxy agree with moto: target registrations and listener routes."""
        for arn, backend in self.target_groups.items():
            health = self.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            registered = {t["Target"]["Id"] for t in health} & set(self.fleet.instances)
            served = set(self.lb.backends[backend].slots)
            for target in sorted(registered - served):
                self.lb.register(backend, target, self.fleet.instances[target].address)
            for target in sorted(served - registered):
                self.lb.deregister(backend, target, self.delays[arn])
        for arn, frontend in self.listeners.items():
            backend = self.target_groups[self._forward(arn)]
            if self.lb.routed_to(frontend) != backend:
                self.lb.route(frontend, backend)

    def wait_healthy(self, instances: list[str], timeout: float = 180) -> None:
        """AllowTraffic waits until the instances pass the target group's health check."""
        self.sync()
        deadline = time.monotonic() + timeout
        for backend in self.target_groups.values():
            for target in set(self.lb.backends[backend].slots) & set(instances):
                self.lb.wait_until(backend, target, "UP", max(deadline - time.monotonic(), 1))

    def terminate(self, instances: list[str], target_groups: list[str]) -> None:
        """After the deregistration delay (the targets are draining meanwhile), the instances go."""
        self.sync()
        delay = max((self.delays.get(arn, 0) for arn in target_groups), default=0)
        time.sleep(delay)
        for name in instances:
            self.fleet.terminate(name)

    def frontend(self, listener: str) -> str:
        """The listener's address on this machine (the ALB's DNS name and port in production)."""
        return f"http://127.0.0.1:{self.ports[listener]}"

    def internal(self, listener: str) -> str:
        """The listener's address as the instances reach it (an internal ALB's DNS name in production)."""
        return f"http://{self.lb.internal_address}:{self.ports[listener]}"

