"""`dagger call test`: each service's own test suite, run by its Dockerfile's `test` stage on the engine."""

import asyncio
from typing import Annotated

import dagger
from dagger import Doc, field, function, object_type

from .report import OutputFormat, Section, render

REPORTS_DIR = "/reports"  # where the Dockerfiles' test stages leave JUnit XML
OUTPUT_TAIL = 60  # lines of a failing suite's output shown in the error


class TestsFailed(RuntimeError):
    """One or more services' tests failed; the message names them and shows their output."""

    __test__ = False  # not a pytest test class


@object_type
class TestRun:
    """One service's passing test stage."""

    __test__ = False

    service: str = field()
    container: Annotated[dagger.Container, Doc("The test stage after its tests passed")] = field()


@object_type
class TestSuite:
    """Every selected service's tests, passed."""

    __test__ = False

    runs: list[TestRun] = field()

    @function
    async def reports(self) -> dagger.Directory:
        """JUnit reports, one folder per service that writes them (`test reports export --path ./reports`)."""
        out = dagger.dag.directory()
        for run in self.runs:
            if REPORTS_DIR.strip("/") + "/" in await run.container.directory("/").entries():
                out = out.with_directory(run.service, run.container.directory(REPORTS_DIR))
        return out

    @function
    def summary(self) -> str:
        """Which services' tests ran and passed, as a table."""
        rows = [(run.service, "passed") for run in self.runs]
        return render("Tests", [Section(header=("service", "result"), rows=rows)], rows, OutputFormat.text)


async def run_all(stages: dict[str, dagger.Container]) -> TestSuite:
    """Run every test stage at once; report every failing service, not just the first."""

    async def one(name: str, stage: dagger.Container) -> TestRun | str:
        try:
            await stage.sync()
        except dagger.ExecError as exc:
            return failure(name, exc.stdout, exc.stderr, str(exc))
        except dagger.QueryError as exc:
            return failure(name, "", "", str(exc))
        return TestRun(service=name, container=stage)

    results = await asyncio.gather(*(one(n, s) for n, s in stages.items()))
    failed = [r for r in results if isinstance(r, str)]
    if failed:
        raise TestsFailed("\n\n".join(failed))
    return TestSuite(runs=[r for r in results if isinstance(r, TestRun)])


def failure(service: str, stdout: str, stderr: str, message: str) -> str:
    output = "\n".join(part for part in (stdout, stderr) if part) or message
    tail = "\n".join(output.splitlines()[-OUTPUT_TAIL:])
    return f"{service}: tests failed\n{tail}"
