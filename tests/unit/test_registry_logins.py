"""One registry login per registry and region per call, however many pushes, checks and copies ask for it."""

from __future__ import annotations

import asyncio

import pytest
from dojangkok.catalogue import RegistryKind
from dojangkok.credentials import Access, RegistryLogin

pytestmark = pytest.mark.unit

SEOUL, VIRGINIA = "ap-northeast-2", "us-east-1"


class CountingAws:
    """Stands in for with-aws's access: hands out an ECR password per region, and counts the requests."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def ecr_password(self, region: str) -> str:
        self.asked.append(region)
        await asyncio.sleep(0)  # concurrent askers overlap here
        return f"token-{region}-{len(self.asked)}"


async def test_concurrent_and_later_askers_share_one_login_per_region():
    aws = CountingAws()
    access = Access(aws=aws, gcp=None)

    first = await asyncio.gather(*(access.registry_login(RegistryKind.ECR, SEOUL) for _ in range(3)))
    later = await access.registry_login(RegistryKind.ECR, SEOUL)
    elsewhere = await access.registry_login(RegistryKind.ECR, VIRGINIA)

    assert aws.asked == [SEOUL, VIRGINIA]
    assert set(first) == {later} == {("AWS", f"token-{SEOUL}-1")}
    assert elsewhere == ("AWS", f"token-{VIRGINIA}-2")


async def test_another_call_asks_again():
    aws = CountingAws()
    for _ in range(2):  # each function call holds its own Access
        await Access(aws=aws, gcp=None).registry_login(RegistryKind.ECR, SEOUL)
    assert aws.asked == [SEOUL, SEOUL]


async def test_a_registry_override_gets_its_own_login_and_no_ecr_token():
    aws = CountingAws()
    own = RegistryLogin(username="ci", password=None)
    access = Access(aws=aws, gcp=None, registry="mirror.example:5000", override_login=own)

    assert await access.registry_login(RegistryKind.ECR, SEOUL) == ("ci", None)
    assert aws.asked == []
