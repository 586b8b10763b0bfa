"""Shared fixtures: real tokenizers that ship inside PyPI packages, tiny real models."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIXTURES = Path(__file__).parent / "fixtures"


def sentencepiece_model_path() -> Path:
    """The LLaMA-family 32k sentencepiece model shipped in the `mistral-common` package."""
    import mistral_common

    path = Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1"
    if not path.exists():  # pragma: no cover - depends on the installed package layout
        pytest.skip(f"mistral-common does not ship {path}")
    return path


@pytest.fixture(scope="session")
def sp_model_path() -> Path:
    return sentencepiece_model_path()


@pytest.fixture(scope="session")
def llama_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory, sp_model_path: Path) -> Path:
    """A folder holding `tokenizer.model`, loadable by `transformers.AutoTokenizer` / `LlamaTokenizer`."""
    d = tmp_path_factory.mktemp("llama_tok")
    shutil.copy(sp_model_path, d / "tokenizer.model")
    return d


@pytest.fixture(scope="session")
def llama_tokenizer(llama_tokenizer_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import LlamaTokenizer

    return LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir))


@pytest.fixture(scope="session")
def sp_fast_tokenizer(sp_model_path: Path):  # type: ignore[no-untyped-def]
    """`sd.tokenize.fast_from_sentencepiece` on the same model: a fast tokenizer whose ids
    equal sentencepiece's (tests that change it work on a `copy.deepcopy`)."""
    from sftdata.tokenize import fast_from_sentencepiece

    return fast_from_sentencepiece(sp_model_path)
