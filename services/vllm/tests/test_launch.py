"""The vLLM launch configuration renders the command line the seed asks for.

Standard-library unittest, so it runs in the vLLM image's test stage without installing anything:
    python3 -m unittest discover -s tests -v
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("launch", HERE / "launch.py")
assert _spec is not None and _spec.loader is not None
launch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(launch)

ADAPTERS = {
    "checklist-lora": "/models/lora/checklist",
    "contract-lora": "/models/lora/contract",
    "risk-lora": "/models/lora/risk",
}


def value_of(argv: list[str], option: str) -> str:
    assert argv.count(option) == 1, f"{option} appears {argv.count(option)} times in {argv}"
    return argv[argv.index(option) + 1]


class ServeConfigTest(unittest.TestCase):
    def setUp(self) -> None:
        self.config = launch.load(HERE / "serve.json")
        self.argv = launch.render_argv(self.config, python="python3")

    def test_it_starts_the_openai_compatible_server(self) -> None:
        self.assertEqual(self.argv[:3], ["python3", "-m", "vllm.entrypoints.openai.api_server"])

    def test_model_port_and_host(self) -> None:
        self.assertEqual(value_of(self.argv, "--model"), "EleutherAI/polyglot-ko-5.8b")
        self.assertEqual(value_of(self.argv, "--port"), "8001")
        self.assertEqual(value_of(self.argv, "--host"), "0.0.0.0")  # noqa: S104 (a container listens on all)

    def test_lora_is_enabled_with_two_adapters_resident(self) -> None:
        self.assertIn("--enable-lora", self.argv)
        self.assertEqual(value_of(self.argv, "--max-loras"), "2")

    def test_all_three_adapters_follow_a_single_lora_modules_flag(self) -> None:
        start = self.argv.index("--lora-modules") + 1
        self.assertEqual(self.argv.count("--lora-modules"), 1)
        self.assertEqual(self.argv[start : start + 3], [f"{n}={p}" for n, p in ADAPTERS.items()])

    def test_t4_sizing(self) -> None:
        self.assertEqual(value_of(self.argv, "--dtype"), "float16")
        self.assertEqual(value_of(self.argv, "--max-model-len"), "2048")
        self.assertLessEqual(float(value_of(self.argv, "--gpu-memory-utilization")), 0.95)

    def test_every_value_is_its_own_argument(self) -> None:
        self.assertTrue(all(" " not in arg for arg in self.argv), self.argv)


class RenderingRulesTest(unittest.TestCase):
    def test_false_and_null_options_are_left_out(self) -> None:
        argv = launch.render_argv({"model": "m", "port": 1, "enforce_eager": False, "seed": None}, python="py")
        self.assertEqual(argv[3:], ["--model", "m", "--port", "1"])

    def test_lists_and_objects(self) -> None:
        argv = launch.render_argv({"model": "m", "port": 1, "api_key": ["a", "b"], "x": {"k": 1}}, python="py")
        self.assertEqual(argv[7:], ["--api-key", "a", "b", "--x", '{"k": 1}'])


class ValidationTest(unittest.TestCase):
    def check_refused(self, config: dict, message: str) -> None:
        with self.assertRaises(launch.ConfigError) as caught:
            launch.render_argv(config)
        self.assertIn(message, str(caught.exception))

    def test_model_and_port_are_required(self) -> None:
        self.check_refused({"port": 8001}, "needs model")

    def test_adapters_need_enable_lora(self) -> None:
        self.check_refused({"model": "m", "port": 1, "lora_modules": {"a": "/x"}}, "enable_lora is not true")

    def test_adapter_paths_must_be_absolute(self) -> None:
        self.check_refused({"model": "m", "port": 1, "enable_lora": True, "lora_modules": {"a": "x"}}, "absolute")

    def test_max_loras_must_be_positive(self) -> None:
        config = {"model": "m", "port": 1, "enable_lora": True, "max_loras": 0, "lora_modules": {"a": "/x"}}
        self.check_refused(config, "max_loras")


class CommandLineTest(unittest.TestCase):
    def run_launch(self, *args: str, config: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        if config is not None:
            env["VLLM_SERVE_CONFIG"] = config
        return subprocess.run(
            [sys.executable, str(HERE / "launch.py"), *args], capture_output=True, text=True, env=env, check=False
        )

    def test_print_shows_the_command_with_extra_flags_appended(self) -> None:
        result = self.run_launch("--print", "--max-num-seqs", "8")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("--enable-lora", result.stdout)
        self.assertTrue(result.stdout.strip().endswith("--max-num-seqs 8"))

    def test_a_missing_config_is_a_clear_error(self) -> None:
        with tempfile.TemporaryDirectory() as empty:
            result = self.run_launch("--print", config=os.path.join(empty, "serve.json"))
        self.assertEqual(result.returncode, 2)
        self.assertIn("VLLM_SERVE_CONFIG", result.stderr)

    def test_a_config_that_is_not_json_is_a_clear_error(self) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as broken:
            broken.write("{model: polyglot")
        try:
            result = self.run_launch("--print", config=broken.name)
        finally:
            os.unlink(broken.name)
        self.assertEqual(result.returncode, 2)
        self.assertIn("not valid JSON", result.stderr)


if __name__ == "__main__":
    unittest.main()
