"""The release check refuses, one rule at a time, what a vLLM release would refuse at start-up.

Each test builds a small wheel with the layout of a real release (v0.4's, and the later one with a model
registry, frontend dataclass fields and the SupportsLoRA interface); the real pinned wheel is checked in the
image's test stage. Standard library only, like the check itself.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import textwrap
import unittest
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))  # the image's test stage runs from the service folder, as the check does

import check_release  # noqa: E402

CONFIG = json.loads((HERE / "serve.json").read_text())
FACTS = json.loads((HERE / "model.json").read_text())

OLD = {  # v0.4: literal flags, _MODELS, supported_lora_modules
    "vllm/engine/arg_utils.py": """
        def add_cli_args(parser):
            parser.add_argument('--model')
            parser.add_argument('--dtype', choices=['auto', 'half', 'float16', 'bfloat16'])
            parser.add_argument('--max-model-len', type=int)
            parser.add_argument('--gpu-memory-utilization', type=float)
            parser.add_argument('--enable-lora', action='store_true')
            parser.add_argument('--max-loras', type=int)
    """,
    "vllm/entrypoints/openai/cli_args.py": """
        def make_arg_parser(parser):
            parser.add_argument("--host")
            parser.add_argument("--port")
            parser.add_argument("--lora-modules")
    """,
    "vllm/entrypoints/openai/api_server.py": 'if __name__ == "__main__":\n    main()\n',
    "vllm/model_executor/models/__init__.py": """
        _MODELS = {"GPTNeoXForCausalLM": ("gpt_neox", "GPTNeoXForCausalLM"), "LlamaForCausalLM": ("llama", "Llama")}
    """,
    "vllm/model_executor/models/gpt_neox.py": "class GPTNeoXForCausalLM:\n    pass\n",
    "vllm/model_executor/models/llama.py": "class Llama:\n    supported_lora_modules = ['q_proj']\n",
}

NEW = {  # later: flags from a frontend dataclass too, registry.py, the SupportsLoRA interface through mixins
    "vllm/engine/arg_utils.py": """
        def add_cli_args(model_group, lora_group):
            model_group.add_argument("--model")
            model_group.add_argument("--dtype")
            model_group.add_argument("--max-model-len")
            model_group.add_argument("--gpu-memory-utilization")
            lora_group.add_argument("--enable-lora")
            lora_group.add_argument("--max-loras")
    """,
    "vllm/entrypoints/launchers/cli_args.py": """
        class BaseFrontendArgs:
            lora_modules: list[str] | None = None
        class FrontendArgs(BaseFrontendArgs):
            host: str | None = None
            port: int = 8000
    """,
    "vllm/entrypoints/openai/api_server.py": "if __name__ == '__main__':\n    main()\n",
    "vllm/config/model.py": 'ModelDType = Literal["auto", "half", "float16", "bfloat16", "float", "float32"]\n',
    "vllm/model_executor/models/registry.py": """
        _TRANSFORMERS_SUPPORTED_MODELS = {"GPTNeoXForCausalLM": ("transformers", "TransformersForCausalLM")}
    """,
    "vllm/model_executor/models/transformers/__init__.py": "class TransformersForCausalLM(CausalMixin): ...\n",
    "vllm/model_executor/models/transformers/causal.py": "class CausalMixin(Base): ...\n",
    "vllm/model_executor/models/transformers/base.py": "class Base(nn.Module, SupportsLoRA): ...\n",
}


def wheel(files: dict[str, str], version: str, folder: Path) -> Path:
    path = folder / f"vllm-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, textwrap.dedent(source))
        archive.writestr(f"vllm-{version}.dist-info/METADATA", f"Name: vllm\nVersion: {version}\n")
    return path


class ReleaseCheckTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = Path(tempfile.mkdtemp())

    def problems(self, files: dict[str, str], config: dict | None = None, version: str = "9.9") -> list[str]:
        release = check_release.Release.from_wheel(wheel(files, version, self.folder))
        return check_release.problems(config or CONFIG, FACTS, release)

    def test_a_release_with_lora_for_the_architecture_starts_the_configuration(self) -> None:
        self.assertEqual(self.problems(NEW), [])

    def test_lora_on_an_architecture_without_lora_support_is_refused(self) -> None:
        (problem,) = self.problems(OLD, version="0.4.0")
        self.assertIn("vLLM 0.4.0 has no LoRA support for GPTNeoXForCausalLM", problem)

    def test_without_adapters_the_old_release_starts(self) -> None:
        plain = {k: v for k, v in CONFIG.items() if k not in ("enable_lora", "max_loras", "lora_modules")}
        self.assertEqual(self.problems(OLD, plain), [])

    def test_a_flag_the_release_does_not_take_is_refused(self) -> None:
        config = {**CONFIG, "speculative_model": "tiny"}
        (problem,) = self.problems(NEW, config)
        self.assertIn("does not take --speculative-model", problem)

    def test_an_architecture_the_release_cannot_load_is_refused(self) -> None:
        files = copy.deepcopy(NEW)
        files["vllm/model_executor/models/registry.py"] = '_MODELS = {"LlamaForCausalLM": ("llama", "Llama")}\n'
        self.assertIn("cannot load GPTNeoXForCausalLM", self.problems(files)[0])

    def test_a_dtype_the_release_does_not_offer_is_refused(self) -> None:
        (problem,) = self.problems(OLD, {**CONFIG, "dtype": "float8", "enable_lora": False, "lora_modules": {}})
        self.assertIn("not float8", problem)

    def test_a_context_longer_than_the_models_is_refused(self) -> None:
        self.assertIn("exceeds EleutherAI/polyglot-ko-5.8b's 2048 positions",
                      self.problems(NEW, {**CONFIG, "max_model_len": 4096})[0])

    def test_a_release_layout_it_cannot_read_is_refused_rather_than_passed(self) -> None:
        with self.assertRaises(check_release.ReleaseError) as refused:
            check_release.Release.from_wheel(wheel({"vllm/other.py": "x = 1\n"}, "99.0", self.folder))
        self.assertIn("teach it before the bump", str(refused.exception))


if __name__ == "__main__":
    unittest.main()
