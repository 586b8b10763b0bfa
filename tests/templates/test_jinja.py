"""from_tokenizer: the model's own jinja template, sandboxed, as segments."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata import templates
from sftdata.templates import JinjaTemplate
from tests import strategies as S
from tests.templates.conftest import published

_plain = st.one_of(S.words, S.plain_text, S.whitespace_only, st.just(""))


def _trained_chars(segments: list[templates.Segment]) -> list[bool]:
    return [s.train for s in segments for _ in s.text]


@pytest.mark.parametrize("name", sorted(published()))
@settings(max_examples=10)
@given(data=st.data())
def test_from_tokenizer_matches_apply_chat_template_and_builtin(
    name: str, data: st.DataObject, family_tokenizers: dict[str, Any]
) -> None:
    """Property: from_tokenizer renders like apply_chat_template, tokenizes to its ids, and
    trains exactly the characters the built-in template trains."""
    tok = family_tokenizers[name]
    conv = data.draw(S.conversations(text=_plain, system=False if name == "gemma" else None))
    assume(not any(t in m["content"] for m in conv for t in tok.all_special_tokens))
    wrapped = templates.from_tokenizer(tok)
    segs = wrapped.segments(conv)
    assert wrapped.render(conv) == tok.apply_chat_template(conv, tokenize=False)
    assert templates.token_ids(segs, tok) == list(tok.apply_chat_template(conv)["input_ids"])
    assert _trained_chars(segs) == _trained_chars(templates.get(name).segments(conv))
    for msg, span in zip(conv, wrapped.spans(conv), strict=True):
        assert span is not None
        assert msg["content"].strip() == wrapped.render(conv)[span[0] : span[1]].strip()


def test_from_tokenizer_without_template_is_a_clear_error(sp_tokenizer: Any) -> None:
    """Example: a tokenizer without chat_template points to the built-in templates."""
    with pytest.raises(sd.SftDataError, match="no chat_template"):
        templates.from_tokenizer(sp_tokenizer)


HOSTILE = {
    "class walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "messages class": "{{ messages.__class__.__init__.__globals__ }}",
    "globals via cycler": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "globals via lipsum": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "attr filter": "{{ (messages | attr('__class__')).__base__ }}",
    "format string": "{{ '{0.__class__.__base__}'.format(messages) }}",
    "file include": "{% include '/etc/passwd' %}",
    "file import": "{% import '/etc/passwd' as p %}{{ p }}",
    "mutation": "{{ messages.append(1) }}{{ messages | length }}",
    "raise": "{{ raise_exception('bad conversation') }}",
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=list(HOSTILE))
def test_hostile_templates_raise_sftdata_error(source: str, sp_tokenizer: Any) -> None:
    """Property: a template reaching Python internals, files, or mutating input fails
    with SftDataError, never renders."""
    tok = copy.deepcopy(sp_tokenizer)
    tok.chat_template = source
    conv = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    with pytest.raises(sd.SftDataError):
        templates.from_tokenizer(tok).render(conv)


def test_content_transformed_beyond_stripping_is_refused() -> None:
    """Example: a template that rewrites content (upper-cases it) cannot be segmented."""
    t = JinjaTemplate(
        name="upper", source="{% for m in messages %}{{ m['content'] | upper }}{% endfor %}"
    )
    conv = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert t.render(conv) == "HIYO"
    with pytest.raises(sd.SftDataError, match="upper"):
        t.segments(conv)


@pytest.mark.parametrize("name", ["chatml", "llama3", "zephyr"])
def test_to_jinja_served_by_transformers_renders_same_text(
    name: str, family_tokenizers: dict[str, Any]
) -> None:
    """Example: our to_jinja() used as an HF chat_template renders our text in transformers."""
    tok = copy.deepcopy(family_tokenizers[name])
    tok.chat_template = templates.get(name).to_jinja()
    conv = [
        {"role": "system", "content": " be kind "},
        {"role": "user", "content": "hi  there"},
        {"role": "assistant", "content": "yo\n"},
        {"role": "user", "content": "q"},
    ]
    for gen in (False, True):
        text = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
        assert text == templates.get(name).render(conv, add_generation_prompt=gen)
