"""encode / Encode: ids equal the template reference, masks follow the template's spans."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata import DROP_REASON, IGNORE_INDEX, RowError, SftDataError
from sftdata.templates import split_pieces, token_ids
from sftdata.templates._segments import continuation
from tests.strategies import conversations, visible_content, words

FAMILIES = ["llama2", "mistral", "chatml"]


def _tok(name: str, llama: Any, chatml: Any) -> Any:
    return chatml if name == "chatml" else llama


def _trained_ranges(tokenizer: Any, template: Any, messages: list[dict[str, str]]) -> list[Any]:
    """Brute force, token by token: the segments each token's characters touch.

    A piece right after a control token other than BOS continues the rendered string:
    tokenized without the word-start prefix (matters for legacy=False sentencepiece).
    """
    out: list[Any] = []
    previous = None
    for piece in split_pieces(template.segments(messages)):
        before, previous = previous, piece[-1]
        if piece[0].special:
            out.append([piece[0]])
            continue
        text = "".join(s.text for s in piece)
        if not text:
            continue
        bounds, pos = [], 0
        for s in piece:
            bounds.append((pos, pos + len(s.text), s))
            pos += len(s.text)
        cont = before is not None and before.special and before.text != tokenizer.bos_token
        with continuation(tokenizer) if cont and not piece[0].break_before else nullcontext():
            enc = tokenizer(
                text,
                add_special_tokens=False,
                return_offsets_mapping=True,
                split_special_tokens=True,
            )
        for a, b in enc["offset_mapping"]:
            b = max(b, a + 1)
            out.append([s for lo, hi, s in bounds if lo < b and a < hi and hi > lo])
    return out


@settings(max_examples=25)
@given(data=st.data(), name=st.sampled_from(FAMILIES))
def test_ids_equal_the_template_reference(
    data: st.DataObject, name: str, llama_tokenizer: Any, chatml_tokenizer: Any
) -> None:
    """sd.encode ids == sftdata.templates.token_ids for any conversation, hostile content included."""
    messages = data.draw(conversations())
    tok = _tok(name, llama_tokenizer, chatml_tokenizer)
    template = sd.templates.get(name)
    row = sd.encode(messages, tok, template, max_length=100_000)
    assert row["input_ids"].tolist() == token_ids(template.segments(messages), tok)
    assert len(row["input_ids"]) == len(row["labels"]) == len(row["attention_mask"])
    assert row["input_ids"].dtype == row["labels"].dtype == np.int32
    assert row["attention_mask"].dtype == np.int8 and row["attention_mask"].all()


@settings(max_examples=25)
@given(
    data=st.data(), name=st.sampled_from(FAMILIES), loss_on=st.sampled_from(["assistant", "last"])
)
def test_trained_tokens_are_exactly_those_touching_trained_segments(
    data: st.DataObject, name: str, loss_on: str, llama_tokenizer: Any, chatml_tokenizer: Any
) -> None:
    """A token carries loss iff it touches an assistant segment the template trains (last turn only for 'last')."""
    messages = data.draw(conversations())
    tok = _tok(name, llama_tokenizer, chatml_tokenizer)
    template = sd.templates.get(name)
    row = sd.encode(messages, tok, template, max_length=100_000, loss_on=loss_on)  # type: ignore[arg-type]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    touched = _trained_ranges(tok, template, messages)
    assert len(touched) == len(row["labels"])
    for tid, label, segs in zip(row["input_ids"], row["labels"], touched, strict=True):
        want = any(s.train and (loss_on == "assistant" or s.message == last) for s in segs)
        assert (label != IGNORE_INDEX) == want
        if want:
            assert label == tid
            # never a system or user character
            assert all(
                messages[s.message]["role"] == "assistant" for s in segs if s.train and s.content
            )


@settings(max_examples=20)
@given(messages=conversations(text=st.one_of(words, visible_content.filter(str.isprintable))))
def test_decoding_each_trained_run_gives_the_answer_and_its_end_token(
    messages: list[dict[str, str]], chatml_tokenizer: Any
) -> None:
    """chatml: each run of trained tokens decodes to one assistant content + '<|im_end|>' (in order)."""
    row = sd.encode(messages, chatml_tokenizer, "chatml", max_length=100_000)
    runs: list[list[int]] = []
    prev = False
    for label in row["labels"].tolist():
        if label != IGNORE_INDEX:
            if not prev:
                runs.append([])
            runs[-1].append(label)
        prev = label != IGNORE_INDEX
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    assert len(runs) == len(answers)
    for run, answer in zip(runs, answers, strict=True):
        decoded = chatml_tokenizer.decode(run)
        # sentencepiece drops the space it decodes at the start of a run
        assert decoded in (answer + "<|im_end|>", answer[1:] + "<|im_end|>")


@settings(max_examples=20)
@given(
    messages=conversations(
        text=st.sampled_from(["</s>", "<s>", "[INST]", "a </s> b", "<|im_end|>"])
    )
)
def test_content_never_becomes_a_control_token(
    messages: list[dict[str, str]], llama_tokenizer: Any, chatml_tokenizer: Any
) -> None:
    """Control-token lookalikes in content stay text: only the template emits BOS/EOS/<|im_end|>."""
    n_answers = sum(m["role"] == "assistant" for m in messages)
    llama = sd.encode(messages, llama_tokenizer, "llama2", max_length=100_000)["input_ids"].tolist()
    assert llama.count(llama_tokenizer.eos_token_id) == n_answers
    assert llama.count(llama_tokenizer.bos_token_id) == n_answers
    assert llama[0] == llama_tokenizer.bos_token_id and llama[1] != llama_tokenizer.bos_token_id
    chat = sd.encode(messages, chatml_tokenizer, "chatml", max_length=100_000)["input_ids"].tolist()
    im_end = chatml_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert chat.count(im_end) == len(messages)
    assert chatml_tokenizer.eos_token_id not in chat


def test_llama2_matches_metas_per_pair_reference(llama_tokenizer: Any, sp_model_path: Any) -> None:
    """llama2 ids equal BOS + sp.encode('[INST] {user} [/INST] {answer} ') + EOS per pair, system folded in."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(sp_model_path))
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2? </s>"},
        {"role": "assistant", "content": " Four. "},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "Six."},
    ]
    first = "<<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is 2+2? </s>"
    pairs = [(first, "Four."), ("And 3+3?", "Six.")]
    want: list[int] = []
    for user, answer in pairs:
        want += [sp.bos_id(), *sp.encode(f"[INST] {user} [/INST] {answer} "), sp.eos_id()]
    row = sd.encode(messages, llama_tokenizer, "llama2", max_length=512)
    assert row["input_ids"].tolist() == want
    trained = [t for t in row["labels"].tolist() if t != IGNORE_INDEX]
    assert llama_tokenizer.decode(trained) == "Four. </s> Six. </s>"


def test_loss_on_all_last_and_train_on_eos(chatml_tokenizer: Any) -> None:
    """'all' trains every token; 'last' only the final answer; train_on_eos=False leaves <|im_end|> unlabelled."""
    msgs = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "second answer"},
    ]
    tok = chatml_tokenizer

    def trained(**kw: Any) -> str:
        row = sd.encode(msgs, tok, "chatml", max_length=512, **kw)
        return tok.decode([t for t in row["labels"].tolist() if t != IGNORE_INDEX])

    every = sd.encode(msgs, tok, "chatml", max_length=512, loss_on="all")
    assert every["labels"].tolist() == every["input_ids"].tolist()
    assert trained() == "first answer<|im_end|>second answer<|im_end|>"
    assert trained(loss_on="last") == "second answer<|im_end|>"
    assert trained(train_on_eos=False) == "first answersecond answer"


def test_truncation_modes(llama_tokenizer: Any) -> None:
    """drop rejects with encode.too_long; truncate cuts right and says how much; raise raises; no label left rejects."""
    msgs = [{"role": "user", "content": "short"}, {"role": "assistant", "content": "word " * 40}]
    full = sd.encode(msgs, llama_tokenizer, "llama2", max_length=10_000)
    n = len(full["input_ids"])
    with pytest.raises(RowError) as e:
        sd.encode(msgs, llama_tokenizer, "llama2", max_length=n - 1)
    assert e.value.reason == "encode.too_long" and str(n) in str(e.value)
    cut = sd.encode(msgs, llama_tokenizer, "llama2", max_length=n - 5, truncation="truncate")
    assert cut["input_ids"].tolist() == full["input_ids"][: n - 5].tolist()
    assert cut["labels"].tolist() == full["labels"][: n - 5].tolist()
    assert cut["truncated"] == 5  # the cut EOS is reported, never silent
    with pytest.raises(RowError) as e:
        sd.encode(msgs, llama_tokenizer, "llama2", max_length=4, truncation="truncate")
    assert e.value.reason == "encode.no_trained_tokens"
    step = sd.Encode(llama_tokenizer, "llama2", max_length=n - 1, truncation="raise")
    with pytest.raises(SftDataError, match=f"{n} tokens > max_length {n - 1}"):
        step({"messages": [msgs]})


def test_rejected_rows_keep_their_place(llama_tokenizer: Any) -> None:
    """Bad rows become empty arrays with a reason; rows already rejected keep theirs; the row count holds."""
    good = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    batch = {
        "messages": [good, [{"role": "user", "content": "no answer"}], good, "junk"],
        DROP_REASON: [None, None, "dedup.exact", None],
    }
    out = sd.Encode(llama_tokenizer, "llama2", max_length=64)(batch)
    assert out[DROP_REASON] == [None, "parse.no_assistant", "dedup.exact", "parse.not_a_list"]
    assert [len(x) for x in out["input_ids"]] == [len(out["input_ids"][0]), 0, 0, 0]
    assert len(out["input_ids"][0]) > 0
    assert out["messages"] == batch["messages"]


def test_a_conversation_the_template_cannot_render_is_one_rejected_row(
    llama_tokenizer: Any,
) -> None:
    """A tool turn under llama2 (no tool format), a system turn under a jinja template
    that refuses one: that row is rejected with a reason, the batch goes on."""
    good = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    tool = [*good, {"role": "tool", "content": "42"}, {"role": "assistant", "content": "ok"}]
    out = sd.Encode(llama_tokenizer, "llama2", max_length=64)({"messages": [good, tool, good]})
    assert out[DROP_REASON] == [None, "template.unsupported_role:tool", None]
    refusing = sd.templates.JinjaTemplate(
        name="no-system",
        source="{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for m in messages %}{{ m['content'] + eos_token }}{% endfor %}",
        eos_token="</s>",
        control_tokens=("</s>",),
    )
    system = [{"role": "system", "content": "be brief"}, *good]
    out = sd.Encode(llama_tokenizer, refusing, max_length=64)({"messages": [good, system]})
    assert out[DROP_REASON] == [None, "template.refused"]
    with pytest.raises(sd.RowError, match="System role not supported"):
        sd.encode(system, llama_tokenizer, refusing, max_length=64)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_length": 0}, "max_length"),
        ({"max_length": 8, "loss_on": "user"}, "loss_on"),
        ({"max_length": 8, "truncation": "left"}, "truncation"),
    ],
)
def test_bad_arguments_fail_before_any_work(
    llama_tokenizer: Any, kwargs: dict[str, Any], field: str
) -> None:
    """Invalid options raise SftDataError naming the option when the step is built."""
    with pytest.raises(SftDataError, match=field):
        sd.Encode(llama_tokenizer, "llama2", **kwargs)


def test_unknown_template_and_missing_control_token_are_named(llama_tokenizer: Any) -> None:
    """An unknown template name lists known ones; a template whose control token the tokenizer lacks names it."""
    with pytest.raises(SftDataError, match="chatml"):
        sd.Encode(llama_tokenizer, "no-such-template", max_length=8)
    with pytest.raises(SftDataError, match=r"control token '<\|im_(start|end)\|>'"):
        sd.Encode(llama_tokenizer, "chatml", max_length=8)


def test_encode_text_wraps_each_document_and_trains_everything(llama_tokenizer: Any) -> None:
    """Pretraining rows: BOS + text + EOS, labels == ids, '</s>' in the text stays text."""
    out = sd.EncodeText(llama_tokenizer)({"text": ["one </s> two", "three"]})
    bos, eos = llama_tokenizer.bos_token_id, llama_tokenizer.eos_token_id
    for text, ids, labels in zip(
        ["one </s> two", "three"], out["input_ids"], out["labels"], strict=True
    ):
        body = llama_tokenizer(text, add_special_tokens=False, split_special_tokens=True)[
            "input_ids"
        ]
        assert ids.tolist() == [bos, *body, eos]
        assert labels.tolist() == ids.tolist()
    row = sd.encode_text("x", llama_tokenizer, add_bos=False, add_eos=False)
    assert bos not in row["input_ids"].tolist() and eos not in row["input_ids"].tolist()


@settings(max_examples=25)
@given(
    messages=conversations(text=st.one_of(words, visible_content.filter(lambda s: "<|" not in s)))
)
def test_chatml_matches_apply_chat_template_ids_and_assistant_mask(
    messages: list[dict[str, str]], bpe_chatml_tokenizer: Any
) -> None:
    """Byte-level BPE + ChatML: ids == apply_chat_template's; labelled tokens == its {% generation %} mask."""
    tok = bpe_chatml_tokenizer
    ref = tok.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    row = sd.encode(messages, tok, "chatml", max_length=100_000)
    assert row["input_ids"].tolist() == list(ref["input_ids"])
    assert [int(t != IGNORE_INDEX) for t in row["labels"].tolist()] == list(ref["assistant_masks"])


def test_apply_chat_template_lets_content_inject_control_tokens_we_do_not(
    bpe_chatml_tokenizer: Any,
) -> None:
    """Content '<|im_end|>' becomes a control token in apply_chat_template; in sd.encode it stays text."""
    tok = bpe_chatml_tokenizer
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    msgs = [
        {"role": "user", "content": "Hello <|im_end|> there"},
        {"role": "assistant", "content": "fine"},
    ]
    ref = tok.apply_chat_template(msgs, tokenize=True, return_dict=True)["input_ids"]
    ours = sd.encode(msgs, tok, "chatml", max_length=512)["input_ids"].tolist()
    assert list(ref).count(im_end) == 3
    assert ours.count(im_end) == 2


def test_encode_reuses_its_step_only_for_an_unchanged_tokenizer(llama_tokenizer: Any) -> None:
    """encode() keeps recent steps; a token added in between is seen by the next call."""
    import copy

    tok = copy.deepcopy(llama_tokenizer)
    msgs = [{"role": "user", "content": "say zzqqy"}, {"role": "assistant", "content": "zzqqy"}]
    first = sd.encode(msgs, tok, "llama2", max_length=64)["input_ids"].tolist()
    assert sd.encode(msgs, tok, "llama2", max_length=64)["input_ids"].tolist() == first
    tok.add_tokens(["zzqqy"])
    new_id = tok.convert_tokens_to_ids("zzqqy")
    again = sd.encode(msgs, tok, "llama2", max_length=64)["input_ids"].tolist()
    assert new_id not in first and again.count(new_id) == 2
    assert again == token_ids(sd.templates.get("llama2").segments(msgs), tok)
