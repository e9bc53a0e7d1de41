"""Settings from the environment, and the query embedding."""

from __future__ import annotations

import math

import pytest
from aiserver.analysis import ADAPTERS, AnalysisType
from aiserver.embedding import embed
from aiserver.settings import Settings, SettingsError


def test_defaults_point_at_the_compose_services() -> None:
    settings = Settings.from_env({})

    assert settings.vllm_url == "http://vllm:8001"
    assert settings.chroma_url == "http://chromadb:8000"


def test_environment_overrides_and_trailing_slash_is_dropped() -> None:
    settings = Settings.from_env(
        {"VLLM_URL": "http://10.0.0.5:8001/", "CHROMA_URL": "https://chroma.internal", "VLLM_TIMEOUT_SECONDS": "45"}
    )

    assert settings.vllm_url == "http://10.0.0.5:8001"
    assert settings.chroma_url == "https://chroma.internal"
    assert settings.vllm_timeout == 45.0


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("VLLM_TIMEOUT_SECONDS", "soon", "positive number of seconds"),
        ("CHROMA_TIMEOUT_SECONDS", "0", "positive number of seconds"),
        ("VLLM_URL", "vllm:8001", r"http\(s\) URL"),
        ("RETRIEVAL_RESULTS", "-1", "positive whole number"),
        ("TEMPERATURE", "7", "between 0 and 2"),
        ("CHROMA_COLLECTION", " ", "must not be empty"),
    ],
)
def test_a_bad_value_names_the_variable(var: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        Settings.from_env({var: value})
    assert var in str(info.value)


def test_every_type_has_its_adapter() -> None:
    assert {t.value: t.adapter for t in AnalysisType} == {
        "checklist": "checklist-lora",
        "contract": "contract-lora",
        "risk": "risk-lora",
    }
    assert set(ADAPTERS) == set(AnalysisType)


def test_embedding_is_deterministic_unit_length_and_has_the_asked_dimension() -> None:
    vector = embed("임차인은 보증금을 돌려받을 권리가 있다", 384)

    assert len(vector) == 384
    assert vector == embed("임차인은  보증금을 돌려받을 권리가 있다", 384)
    assert math.isclose(sum(v * v for v in vector), 1.0)


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    def cosine(a: str, b: str) -> float:
        return sum(x * y for x, y in zip(embed(a, 384), embed(b, 384), strict=True))

    assert cosine("보증금 반환 청구", "보증금 반환 시기") > cosine("보증금 반환 청구", "관리비 납부 계좌")


def test_empty_text_embeds_to_zeros() -> None:
    assert embed("  ", 8) == [0.0] * 8
