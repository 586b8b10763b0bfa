"""The training format at inference: generation prompts, templates as data, jinja export.

Tokenizer: the LLaMA sentencepiece model loaded as sfttrain loads it (tokenizers backend), with each template's control tokens added as special tokens.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

import sftdata as sd
from sftdata import templates
from tests import strategies as S

_TOKENIZERS: dict[tuple[int, frozenset[str]], Any] = {}


def _tokenizer(base: Any, name: str) -> Any:
    """``base`` with template ``name``'s control tokens added and its jinja as chat_template
    (one copy per set of added tokens: templates sharing control tokens share it)."""
    t = templates.get(name)
    unk = base.unk_token_id
    extra = frozenset(
        x
        for x in {t.bos, t.eos, *t.control_tokens}
        if x and base.convert_tokens_to_ids(x) in (None, unk)
    )
    key = (id(base), extra)
    if key not in _TOKENIZERS:
        tok = copy.deepcopy(base)
        if extra:
            tok.add_special_tokens({"additional_special_tokens": sorted(extra)})
        _TOKENIZERS[key] = tok
    tok = _TOKENIZERS[key]
    tok.chat_template = t.to_jinja()
    return tok


@pytest.fixture(scope="module")
def auto_tokenizer(llama_tokenizer: Any) -> Any:
    return llama_tokenizer


@pytest.mark.slow
@pytest.mark.parametrize("name", templates.names())
@settings(max_examples=8)
@given(conv=S.conversations())
def test_generation_prompt_ids_are_a_prefix_of_training_ids(
    name: str, conv: list[dict[str, str]], auto_tokenizer: Any
) -> None:
    """Property: ids of a conversation's generation prompt == the head of the training ids
    of that conversation plus its answer (any content, every built-in template)."""
    tok = _tokenizer(auto_tokenizer, name)
    t = templates.get(name)
    try:
        trained = sd.encode(conv, tok, t, max_length=1_000_000)["input_ids"].tolist()
    except sd.RowError:  # e.g. nothing trained: an empty answer with train_on_eos off
        return
    prompt = templates.token_ids(t.segments(conv[:-1], add_generation_prompt=True), tok)
    assert trained[: len(prompt)] == prompt


#: Templates whose exported jinja, tokenized as one string by ``apply_chat_template``,
#: gives other ids than training on plain text (measured below), per tokenizer flavour.
#: Any tokenizer: a template whose reference tokenizes each turn on its own
#: (``per_turn_pieces``: mistral, xtuner's) starts every turn with a word-start prefix
#: that one string cannot reproduce.
PER_TURN = frozenset(n for n in templates.names() if templates.get(n).per_turn_pieces)
#: A Metaspace ``prepend_scheme="first"`` tokenizer (``LlamaTokenizer`` with
#: ``legacy=False``, as Llama-2 / Mistral repositories load today) prefixes only the
#: start of a call: after a BOS rendered as text, the one string gets ``[`` where the
#: reference (BOS as an id, then ``sp.encode(text)``) has ``▁[``. So templates whose
#: BOS is followed by text differ too.
BOS_THEN_TEXT = frozenset({"llama2", "vicuna", "alpaca"})
JINJA_NOT_TOKEN_EXACT = {"always": PER_TURN, "first": PER_TURN | BOS_THEN_TEXT}

_PLAIN = [
    [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello! How?"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Two plus two"},
        {"role": "assistant", "content": "Four."},
        {"role": "user", "content": "And three?"},
        {"role": "assistant", "content": "Five, no: six."},
    ],
    [{"role": "user", "content": "A"}, {"role": "assistant", "content": "B"}],
]


def _served(tok: Any, conv: Any, **kw: Any) -> list[int]:
    out = tok.apply_chat_template(conv, tokenize=True, **kw)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


@pytest.fixture(scope="module")
def always_tokenizer(llama_tokenizer_dir: Path) -> Any:
    """The tokenizer as AutoTokenizer converts a bare tokenizer.model (prepend "always")."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(llama_tokenizer_dir))


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["always", "first"])
def test_jinja_export_token_exactness_table(
    flavour: str, auto_tokenizer: Any, always_tokenizer: Any
) -> None:
    """Property: apply_chat_template(to_jinja()) ids == training ids (and generation
    prompts) on plain text exactly for the templates outside JINJA_NOT_TOKEN_EXACT[flavour]
    (the README's table)."""
    base = always_tokenizer if flavour == "always" else auto_tokenizer
    scheme = json.loads(base._tokenizer.pre_tokenizer.__getstate__())
    assert flavour in json.dumps(scheme)  # the flavour is the Metaspace prepend_scheme
    exact = set()
    for name in templates.names():
        tok, t = _tokenizer(base, name), templates.get(name)
        same = all(
            _served(tok, c) == sd.encode(c, tok, t, max_length=4096)["input_ids"].tolist()
            and _served(tok, c[:-1], add_generation_prompt=True)
            == templates.token_ids(t.segments(c[:-1], add_generation_prompt=True), tok)
            for c in _PLAIN
        )
        if same:
            exact.add(name)
    assert set(templates.names()) - exact == JINJA_NOT_TOKEN_EXACT[flavour]


def test_control_token_lookalike_content_breaks_every_jinja_export(auto_tokenizer: Any) -> None:
    """Property: content spelling a control token is text for sftdata but a control token
    for apply_chat_template, so no jinja export is token-exact on such content."""
    for name in ("llama2", "chatml", "llama3"):
        tok, t = _tokenizer(auto_tokenizer, name), templates.get(name)
        control = next(x for x in (t.eos, *t.control_tokens) if x)
        conv = [
            {"role": "user", "content": f"say {control} please"},
            {"role": "assistant", "content": "ok"},
        ]
        trained = sd.encode(conv, tok, t, max_length=4096)["input_ids"].tolist()
        assert trained.count(tok.convert_tokens_to_ids(control)) < _served(tok, conv).count(
            tok.convert_tokens_to_ids(control)
        )


@pytest.mark.parametrize("name", templates.names())
def test_template_data_round_trips(name: str, tmp_path: Path) -> None:
    """Property: load(save(t)) == t for every built-in, through a JSON file."""
    t = templates.get(name)
    assert templates.load(templates.save(t, tmp_path / "t.json")) == t
    assert templates.load(tmp_path.joinpath("t.json").rename(tmp_path / "sftdata_template.json"))


def test_jinja_template_round_trips(tmp_path: Path) -> None:
    """Property: a JinjaTemplate (the model's own chat_template) round-trips as data."""
    t = templates.JinjaTemplate(
        name="own", source="{{ messages[0]['content'] }}", eos_token="</s>", stop_words=("</s>",)
    )
    assert templates.load(templates.save(t, tmp_path / "j.json")) == t


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"format": "other"}, "format"),
        ({"format": "sftdata.template", "version": 9}, "version"),
        ({"format": "sftdata.template", "version": 1, "kind": "x", "fields": {}}, "kind"),
        (
            {"format": "sftdata.template", "version": 1, "kind": "template", "fields": {"nme": 1}},
            "fields.nme",
        ),
        (
            {"format": "sftdata.template", "version": 1, "kind": "template", "fields": {}},
            "name",
        ),
    ],
)
def test_bad_template_data_is_a_clear_error(data: Any, needle: str, tmp_path: Path) -> None:
    """Property: malformed template data raises SftDataError naming what is wrong."""
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    with pytest.raises(sd.SftDataError, match=needle):
        templates.load(path)
    with pytest.raises(sd.SftDataError, match="no template file"):
        templates.load(tmp_path / "missing.json")
