"""xtuner_* templates: the ids equal xtuner's own turn-by-turn encoding."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata import templates
from tests import strategies as S
from tests.templates.conftest import sentencepiece_tokenizer

SPEC = json.loads(
    (
        Path(__file__).parents[1] / "fixtures" / "templates" / "xtuner_prompt_templates.json"
    ).read_text(encoding="utf-8")
)
KEYS = sorted(SPEC["templates"])


@pytest.fixture(scope="module")
def xtuner_tokenizers(sp_model_path: Path) -> dict[str, Any]:
    built: dict[tuple[str, ...], Any] = {}  # families with the same tokens share one
    out = {}
    for key, tokens in SPEC["model_tokens"].items():
        extra = tuple(t for t in [tokens["bos"], *tokens["control_tokens"]] if t and t != "<s>")
        if (tokens["eos"], *extra) not in built:
            tok = sentencepiece_tokenizer(sp_model_path, eos_token=tokens["eos"])
            if extra:
                tok.add_special_tokens({"additional_special_tokens": list(extra)})
            built[(tokens["eos"], *extra)] = tok
        out[key] = built[(tokens["eos"], *extra)]
    return out


@pytest.fixture(scope="module")
def xtuner_fast_tokenizers(sp_fast_tokenizer: Any) -> dict[str, Any]:
    """Fast tokenizers equal to sentencepiece (what the encoder needs), per family."""
    base = sp_fast_tokenizer
    built: dict[tuple[str, ...], Any] = {}
    out = {}
    for key, tokens in SPEC["model_tokens"].items():
        extra = tuple(t for t in [tokens["bos"], *tokens["control_tokens"]] if t and t != "<s>")
        if (tokens["eos"], *extra) not in built:
            tok = copy.deepcopy(base)
            tok.add_special_tokens({"eos_token": tokens["eos"]})
            if extra:
                tok.add_special_tokens({"additional_special_tokens": list(extra)})
            built[(tokens["eos"], *extra)] = tok
        out[key] = built[(tokens["eos"], *extra)]
    return out


def xtuner_encode(key: str, tok: Any, conv: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """xtuner's rule (``template_map_fn`` + ``encode_fn``), written from its documented behaviour.

    Per turn ``n`` (a user message and its answer): ``[BOS]`` (if the previous turn ended
    with EOS, and always first), ``SYSTEM+INSTRUCTION`` as one untrained piece,
    ``answer+SUFFIX`` as one trained piece, ``EOS`` (trained) unless ``SUFFIX_AS_EOS``,
    then ``SEP`` as an untrained piece after *every* turn, the last one included.
    """
    spec, tokens = SPEC["templates"][key], SPEC["model_tokens"][key]
    suffix, as_eos, sep = (
        spec.get("SUFFIX", ""),
        spec.get("SUFFIX_AS_EOS", False),
        spec.get("SEP", ""),
    )
    system = conv[0]["content"] if conv[0]["role"] == "system" else ""
    pairs = [m for m in conv if m["role"] != "system"]
    turns = list(zip(pairs[::2], pairs[1::2], strict=True))
    ids: list[int] = []
    labels: list[int] = []

    def add(piece: list[int], trained: bool) -> None:
        ids.extend(piece)
        labels.extend(piece if trained else [-100] * len(piece))

    needs_bos = True
    for n, (user, answer) in enumerate(turns):
        text = spec["SYSTEM"].format(system=system) if n == 0 and system != "" else ""
        text += spec["INSTRUCTION"].format(input=user["content"], round=n + 1)
        if needs_bos and tokens["bos"]:
            add([tok.convert_tokens_to_ids(tokens["bos"])], False)
        add(tok.encode(text, add_special_tokens=False), False)
        add(tok.encode(answer["content"] + suffix, add_special_tokens=False), True)
        needs_bos = not as_eos
        if not as_eos:
            add([tok.convert_tokens_to_ids(tokens["eos"])], True)
        if sep:
            add(tok.encode(sep, add_special_tokens=False), False)
    return ids, labels


_text = st.one_of(S.words, S.plain_text.filter(bool), S.whitespace_only)


@pytest.mark.parametrize("key", KEYS)
@settings(max_examples=8)
@given(conv=S.conversations(text=_text))
def test_xtuner_ids_equal_xtuner_encoding(
    key: str, conv: list[dict[str, str]], xtuner_tokenizers: dict[str, Any]
) -> None:
    """Property: token_ids(get("xtuner_<key>")) == xtuner's encode_fn ids, trailing SEP included."""
    tok = xtuner_tokenizers[key]
    assume(not any(t in m["content"] for m in conv for t in tok.all_special_tokens))
    ours = templates.token_ids(templates.get(f"xtuner_{key}").segments(conv), tok)
    assert ours == xtuner_encode(key, tok, conv)[0]


@pytest.mark.parametrize("key", KEYS)
@settings(max_examples=4)
@given(conv=S.conversations(text=_text, min_turns=2, max_turns=3))
def test_xtuner_encode_equals_xtuner_ids_and_labels(
    key: str, conv: list[dict[str, str]], xtuner_fast_tokenizers: dict[str, Any]
) -> None:
    """Property: sd.encode with xtuner_<key> gives xtuner's ids and labels on multi-turn chats."""
    tok = xtuner_fast_tokenizers[key]
    assume(not any(t in m["content"] for m in conv for t in tok.all_special_tokens))
    row = sd.encode(conv, tok, f"xtuner_{key}", max_length=100_000)
    ids, labels = xtuner_encode(key, tok, conv)
    assert row["input_ids"].tolist() == ids
    assert row["labels"].tolist() == labels


@pytest.mark.parametrize("key", ["default", "llama2_chat", "internlm2_chat"])
def test_trailing_sep_is_untrained_and_optional(
    key: str, xtuner_fast_tokenizers: dict[str, Any]
) -> None:
    """Example: the last turn ends with SEP (label -100); after_last=False drops exactly it."""
    tok = xtuner_fast_tokenizers[key]
    conv = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    t = templates.get(f"xtuner_{key}")
    full = sd.encode(conv, tok, t, max_length=512)
    sep = tok.encode(SPEC["templates"][key]["SEP"], add_special_tokens=False)
    assert full["input_ids"][-len(sep) :].tolist() == sep
    assert set(full["labels"][-len(sep) :].tolist()) == {-100}
    assert templates.render_jinja(t.to_jinja(), conv) == t.render(conv)
    cut = sd.encode(conv, tok, dataclasses.replace(t, after_last=False), max_length=512)
    assert cut["input_ids"].tolist() == full["input_ids"][: -len(sep)].tolist()


def test_round_placeholder_counts_user_turns() -> None:
    """Example: {round} in INSTRUCTION numbers the user turns, natively and in jinja."""
    t = templates.from_xtuner(
        "rounds", instruction="[Round {round}]\nQ: {input}\nA: ", sep="\n\n", bos="", eos="</s>"
    )
    conv = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    text = t.render(conv)
    assert text == "[Round 1]\nQ: a\nA: b</s>\n\n[Round 2]\nQ: c\nA: d</s>\n\n"
    assert templates.render_jinja(t.to_jinja(), conv) == text


def test_from_xtuner_validates_placeholders() -> None:
    """Example: a SYSTEM/INSTRUCTION without its placeholder is refused up front."""
    with pytest.raises(sd.SftDataError, match="INSTRUCTION"):
        templates.from_xtuner("bad", instruction="no placeholder")
    with pytest.raises(sd.SftDataError, match="SYSTEM"):
        templates.from_xtuner("bad", system="{system}{system}")
