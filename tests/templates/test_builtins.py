"""Properties of every built-in template: jinja == native, segments, spans, registry."""

from __future__ import annotations

import itertools
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata import templates
from sftdata.templates import Template
from tests import strategies as S

NAMES = templates.names()


@pytest.mark.slow
@settings(max_examples=25)
@given(conv=S.conversations(), gen=st.booleans())
def test_jinja_render_equals_native_render(conv: list[dict[str, str]], gen: bool) -> None:
    """Property: render_jinja(t.to_jinja()) == t.render for every built-in and conversation."""
    for name in NAMES:
        t = templates.get(name)
        native = t.render(conv, add_generation_prompt=gen)
        assert templates.render_jinja(t.to_jinja(), conv, add_generation_prompt=gen) == native, name


@pytest.mark.slow
@settings(max_examples=25)
@given(conv=S.conversations())
def test_segments_join_to_render_and_spans_point_at_content(conv: list[dict[str, str]]) -> None:
    """Property: "".join(segments) == render, and each span holds its (stripped) content."""
    for name in NAMES:
        _check_segments_and_spans(templates.get(name), conv)


def _check_segments_and_spans(t: Template, conv: list[dict[str, str]]) -> None:
    segs = t.segments(conv)
    text = t.render(conv)
    assert "".join(s.text for s in segs) == text
    for msg, span in zip(conv, t.spans(conv), strict=True):
        if span is None:  # only an empty system prompt the family drops
            assert msg["role"] == "system" and t.skip_empty_system and msg["content"] == ""
            continue
        shown = text[span[0] : span[1]]
        if t.strip == "none":
            assert shown == msg["content"]
        else:
            assert shown.strip() == msg["content"].strip() and msg["content"].strip() in shown


@pytest.mark.slow
@settings(max_examples=25)
@given(conv=S.conversations())
def test_trained_text_is_answers_and_their_end_of_turn(conv: list[dict[str, str]]) -> None:
    """Property: trained segments belong to assistant messages, and each answer's trained
    closing ends with a control token (the model learns to stop)."""
    for name in NAMES:
        segs = templates.get(name).segments(conv)
        for s in segs:
            if s.train:
                assert s.message is not None and conv[s.message]["role"] == "assistant"
        for i, m in enumerate(conv):
            if m["role"] == "assistant":
                closing = [s for s in segs if s.train and s.message == i and not s.content]
                assert closing and closing[-1].special, (name, i)


@settings(max_examples=60)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.text(max_size=4)), max_size=12))
def test_split_pieces_rule(spec: list[tuple[bool, bool, str]]) -> None:
    """Property: pieces partition the segments; a special is alone; a piece starts after
    each special and at each break_before."""
    segs = [templates.Segment(t, sp, None, False, False, bb) for sp, bb, t in spec]
    pieces = templates.split_pieces(segs)
    assert [s for p in pieces for s in p] == segs
    for piece in pieces:
        assert len(piece) == 1 or not any(s.special for s in piece)
        assert not any(s.break_before for s in piece[1:])
    for prev, cur in itertools.pairwise(segs):
        if prev.special or cur.break_before or cur.special:
            assert any(p[0] is cur for p in pieces)


def test_unknown_name_lists_known_templates() -> None:
    """Example: an unknown name raises SftDataError naming every known template."""
    with pytest.raises(sd.SftDataError) as err:
        templates.get("llama9")
    for name in ("llama2", "chatml", "mistral", "zephyr"):
        assert name in str(err.value)


@pytest.mark.parametrize("name", NAMES)
def test_templates_are_hashable_picklable_data(name: str) -> None:
    """Property: a template is frozen data: pickles to an equal, equally hashed value."""
    t = templates.get(name)
    back = pickle.loads(pickle.dumps(t))
    assert back == t and hash(back) == hash(t)


def test_bad_fields_rejected_before_work() -> None:
    """Example: invalid fields are refused when the template is built."""
    with pytest.raises(sd.SftDataError, match="strip"):
        Template(name="x", strip="both")  # type: ignore[arg-type]
    with pytest.raises(sd.SftDataError, match="user_prefix"):
        Template(name="x", user_prefix=3)  # type: ignore[arg-type]
    with pytest.raises(sd.SftDataError, match="system_placement"):
        Template(name="x", system_placement="first")  # type: ignore[arg-type]
    with pytest.raises(sd.SftDataError, match="stop_words"):
        Template(name="x", stop_words=["</s>"])  # type: ignore[arg-type]


def test_unsupported_role_names_template_and_message() -> None:
    """Example: a tool turn on a family without one is a clear error, not silent loss."""
    conv = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "call"},
        {"role": "tool", "content": "42"},
        {"role": "assistant", "content": "ok"},
    ]
    with pytest.raises(sd.SftDataError, match=r"llama2.*message 2.*tool"):
        templates.get("llama2").render(conv)
    assert "<|im_start|>tool\n42<|im_end|>\n" in templates.get("chatml").render(conv)


def test_llama2_system_prompt_is_folded_as_meta_describes() -> None:
    """Example: the published Llama-2 layout, written out by hand."""
    conv = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "U2"},
        {"role": "assistant", "content": "A2"},
    ]
    expected = "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST] A2 </s>"
    assert templates.get("llama2").render(conv) == expected


def test_token_ids_names_a_control_token_missing_from_the_tokenizer(sp_tokenizer: Any) -> None:
    """Example: a template control token unknown to the tokenizer is named in the error."""
    conv = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    with pytest.raises(sd.SftDataError, match=r"<\|im_start\|>"):
        templates.token_ids(templates.get("chatml").segments(conv), sp_tokenizer)
