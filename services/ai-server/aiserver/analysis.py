"""What an analysis is: its type, the LoRA adapter that serves it, and the prompt sent to vLLM."""

from __future__ import annotations

import enum

from .retrieval import Passage


class AnalysisType(enum.StrEnum):
    CHECKLIST = "checklist"  # 체크리스트 생성
    CONTRACT = "contract"  # 계약서 해설
    RISK = "risk"  # 리스크 검증

    @property
    def adapter(self) -> str:
        """The vLLM model name that selects this type's LoRA adapter (services/vllm/serve.json)."""
        return ADAPTERS[self]


ADAPTERS: dict[AnalysisType, str] = {
    AnalysisType.CHECKLIST: "checklist-lora",
    AnalysisType.CONTRACT: "contract-lora",
    AnalysisType.RISK: "risk-lora",
}

INSTRUCTIONS: dict[AnalysisType, str] = {
    AnalysisType.CHECKLIST: "임차인이 계약 전후에 확인해야 할 항목을 체크리스트로 작성하세요.",
    AnalysisType.CONTRACT: "계약서 내용을 임차인이 이해하기 쉬운 말로 조항별로 해설하세요.",
    AnalysisType.RISK: "계약서에서 임차인에게 불리하거나 위험한 조항을 찾아 이유와 대응 방법을 설명하세요.",
}

# polyglot-ko has a 2048-token context; keep retrieved context well inside it.
MAX_PASSAGE_CHARS = 600


def build_prompt(kind: AnalysisType, text: str, passages: list[Passage]) -> str:
    """A plain completion prompt: polyglot-ko is a base model without a chat template."""
    if passages:
        context = "\n".join(f"[{n}] {p.text.strip()[:MAX_PASSAGE_CHARS]}" for n, p in enumerate(passages, 1))
    else:
        context = "(관련 자료 없음)"
    return f"### 참고 자료\n{context}\n\n### 지시\n{INSTRUCTIONS[kind]}\n\n### 입력\n{text.strip()}\n\n### 답변\n"
