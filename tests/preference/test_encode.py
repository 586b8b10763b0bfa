"""encode_preference / EncodePreference: each answer is its SFT encoding, the prompt a prefix."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sftdata as sd
from sftdata import IGNORE_INDEX, RowError, SftDataError
from sftdata.templates import token_ids
from tests.strategies import preference_rows

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = sd.preference.PREFERENCE_ENCODED
BIG = 1_000_000
SIDES = ("chosen", "rejected")


def _is_prefix(short: list[int], long: list[int]) -> bool:
    return long[: len(short)] == short


@pytest.mark.slow
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), row=preference_rows())
def test_the_encoding_contract_holds_for_every_template_and_tokenizer(
    data: st.DataObject,
    row: dict[str, Any],
    pref_tokenizers: dict[str, Any],
    usable_pairs: list[tuple[str, str]],
) -> None:
    """Each answer's ids == sd.encode(prompt + answer); the prompt ids (its reference with the
    generation prompt) are a prefix of both; labels == the SFT labels with the prompt masked.
    Every built-in template, with the tokenizers of the encoder's suite."""
    name, tok_name = data.draw(st.sampled_from(usable_pairs))
    tok, template = pref_tokenizers[tok_name], sd.templates.get(name)
    prompt = row["prompt"]
    try:
        sft = {s: sd.encode(prompt + row[s], tok, template, max_length=BIG) for s in SIDES}
    except RowError as e:  # a conversation the template cannot render (a tool turn)
        with pytest.raises(RowError, match=re.escape(e.reason)):
            sd.encode_preference(row, tok, template, max_length=BIG)
        return
    want_prompt = token_ids(template.segments(prompt, add_generation_prompt=True), tok)
    try:
        out = sd.encode_preference(row, tok, template, max_length=BIG)
    except RowError as e:  # only ever a truthful rejection
        assert e.reason == "preference.prompt_not_prefix"
        assert not all(_is_prefix(want_prompt, sft[s]["input_ids"].tolist()) for s in sft)
        return
    assert out["prompt_input_ids"].tolist() == want_prompt
    p = len(want_prompt)
    for side, enc in sft.items():
        ids, labels = out[f"{side}_input_ids"], out[f"{side}_labels"]
        assert ids.dtype == labels.dtype == np.int32
        assert ids.tolist() == enc["input_ids"].tolist()
        assert _is_prefix(want_prompt, ids.tolist())
        assert (labels[:p] == IGNORE_INDEX).all()
        assert labels[p:].tolist() == enc["labels"][p:].tolist()
        assert (labels[p:] != IGNORE_INDEX).any()  # the answer's end token at least


def test_every_built_in_template_is_covered(usable_pairs: list[tuple[str, str]]) -> None:
    """The property above draws from pairs that include every built-in template."""
    assert {name for name, _ in usable_pairs} == set(sd.templates.names())


def test_labels_train_exactly_the_answer_turns_and_their_end(chatml_tokenizer: Any) -> None:
    """A multi-turn prompt's own assistant turn is not trained; a tool result in the answer
    is not trained; both answer turns and their <|im_end|> are."""
    row = {
        "prompt": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello from before"},
            {"role": "user", "content": "Weather?"},
        ],
        "chosen": [
            {"role": "assistant", "content": "Let me check"},
            {"role": "tool", "content": "sunny"},
            {"role": "assistant", "content": "Sunny today"},
        ],
        "rejected": [{"role": "assistant", "content": "No idea"}],
    }
    out = sd.encode_preference(row, chatml_tokenizer, "chatml", max_length=512)
    decode = chatml_tokenizer.decode

    def trained(side: str) -> list[str]:
        ids, labels = out[f"{side}_input_ids"], out[f"{side}_labels"]
        runs, run = [], []
        for t, lab in zip(ids.tolist(), labels.tolist(), strict=True):
            if lab != IGNORE_INDEX:
                run.append(t)
            elif run:
                runs, run = [*runs, decode(run)], []
        return runs + ([decode(run)] if run else [])

    assert trained("chosen") == ["Let me check<|im_end|>", "Sunny today<|im_end|>"]
    assert trained("rejected") == ["No idea<|im_end|>"]
    assert decode(out["prompt_input_ids"]).endswith("<|im_start|>assistant\n")


def _rows(n: int) -> dict[str, list[Any]]:
    prompts = [
        [{"role": "user", "content": f"Question {i}: " + "why " * (i % 7)}] for i in range(n)
    ]
    return {
        "id": list(range(n)),
        "prompt": prompts,
        "chosen": [[{"role": "assistant", "content": f"Because {i}."}] for i in range(n)],
        "rejected": [[{"role": "assistant", "content": "No." * (1 + i % 3)}] for i in range(n)],
    }


@pytest.mark.slow
def test_map_with_batch_sizes_1_7_1000_gives_identical_rows(llama_tokenizer: Any) -> None:
    """sd.apply (datasets.map) with batch sizes 1, 7 and 1000 gives the same rows (and carries `id`)."""
    import datasets

    ds = datasets.Dataset.from_dict(_rows(20))
    step = sd.EncodePreference(llama_tokenizer, "llama2", max_length=24)
    outs = [
        sd.apply(ds, step, batch_size=b, load_from_cache_file=False).to_list() for b in (1, 7, 1000)
    ]
    assert outs[0] == outs[1] == outs[2]
    assert [r["id"] for r in outs[0]] == list(range(20))
    assert {r["drop_reason"] for r in outs[0]} == {None, "preference.too_long"}


def test_batched_rows_equal_rows_encoded_alone(chatml_tokenizer: Any) -> None:
    """Every row of one batch equals encode_preference on that row alone."""
    batch = _rows(30)
    out = sd.EncodePreference(chatml_tokenizer, "chatml", max_length=4096)(batch)
    for i in range(30):
        one = sd.encode_preference(
            {k: batch[k][i] for k in batch}, chatml_tokenizer, "chatml", max_length=4096
        )
        for k in COLUMNS:
            assert out[k][i].tolist() == one[k].tolist()


@pytest.mark.slow
def test_step_pickles_and_keeps_working(llama_tokenizer: Any) -> None:
    """The step pickles without its caches and gives the same rows after."""
    step = sd.EncodePreference(llama_tokenizer, "llama2", max_length=64)
    batch = _rows(5)
    before = step(batch)
    again = pickle.loads(pickle.dumps(step))(batch)
    for k in COLUMNS:
        assert [a.tolist() for a in before[k]] == [b.tolist() for b in again[k]]


_FINGERPRINT = """
import sys
from datasets.fingerprint import Hasher
from transformers import LlamaTokenizer
import sftdata as sd
tok = LlamaTokenizer.from_pretrained(sys.argv[1])
step = sd.EncodePreference(tok, "llama2", max_length=64, max_prompt_length=32)
before = Hasher.hash(step)
step({"prompt": ["a"], "chosen": ["b"], "rejected": ["c"]})
print(before, Hasher.hash(step))
"""


@pytest.mark.slow
def test_fingerprint_is_stable_across_processes_and_calls(llama_tokenizer_dir: Path) -> None:
    """datasets' fingerprint of the step is the same in another process and before/after it runs."""
    from datasets.fingerprint import Hasher
    from transformers import LlamaTokenizer

    res = subprocess.run(
        [sys.executable, "-c", _FINGERPRINT, str(llama_tokenizer_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    before, after = res.stdout.split()
    fresh = LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir))
    step = sd.EncodePreference(fresh, "llama2", max_length=64, max_prompt_length=32)
    assert before == after == Hasher.hash(step)
    other = sd.EncodePreference(fresh, "llama2", max_length=64, max_prompt_length=16)
    assert Hasher.hash(other) != before


def test_a_jinja_template_gives_the_built_in_rows(chatml_tokenizer: Any) -> None:
    """A jinja ChatML template (planned per row) encodes pairs exactly as the built-in chatml."""
    jinja = sd.templates.JinjaTemplate(
        name="chatml-jinja",
        source=sd.templates.get("chatml").to_jinja(),
        control_tokens=("<|im_start|>", "<|im_end|>"),
    )
    batch = _rows(8)
    a = sd.EncodePreference(chatml_tokenizer, jinja, max_length=512)(batch)
    b = sd.EncodePreference(chatml_tokenizer, "chatml", max_length=512)(batch)
    assert a["drop_reason"] == b["drop_reason"] == [None] * 8
    for k in COLUMNS:
        assert [x.tolist() for x in a[k]] == [y.tolist() for y in b[k]]


def _newline_bpe() -> Any:
    """A byte-level BPE that learned to merge a line break with what follows it."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    # no pre-split on whitespace: merges may cross a line break, as some vocabularies' do
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(["user\n\nhello\n\nassistant\n\nworld\n\n"] * 50, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", additional_special_tokens=specials[1:]
    )


def test_an_answer_merging_with_the_generation_prompt_is_rejected_not_misencoded() -> None:
    """ChatML's prompt ends with "assistant\\n"; an answer starting with "\\n" makes a BPE that
    merges "\\n\\n" cut the prompt's last token differently: that pair is rejected."""
    tok = _newline_bpe()
    rows = {
        "prompt": [[{"role": "user", "content": "hello"}]] * 2,
        "chosen": ["world", "\nworld"],
        "rejected": ["hello", "hello"],
    }
    out = sd.EncodePreference(tok, "chatml", max_length=256)(rows)
    assert out["drop_reason"] == [None, "preference.prompt_not_prefix"]
    full = sd.encode(
        [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "\nworld"}],
        tok,
        "chatml",
        max_length=256,
    )["input_ids"].tolist()
    prompt = token_ids(
        sd.templates.get("chatml").segments(rows["prompt"][0], add_generation_prompt=True), tok
    )
    assert full[: len(prompt)] != prompt  # the rejection is the truth


def test_too_long_pairs_are_dropped_by_default_and_truncated_on_request(
    llama_tokenizer: Any,
) -> None:
    """drop: preference.too_long; truncate: the prompt cut from the left to
    max_prompt_length, then the answers from the right to max_length."""
    row = {
        "prompt": "one two three four five six seven eight nine ten",
        "chosen": "alpha beta gamma delta epsilon zeta eta theta",
        "rejected": "no",
    }
    full = sd.encode_preference(row, llama_tokenizer, "llama2", max_length=BIG)
    p = len(full["prompt_input_ids"])
    with pytest.raises(RowError, match=r"preference\.too_long"):
        sd.encode_preference(row, llama_tokenizer, "llama2", max_length=p + 3)
    with pytest.raises(RowError, match=r"preference\.too_long"):
        sd.encode_preference(row, llama_tokenizer, "llama2", max_length=BIG, max_prompt_length=5)
    cut = sd.encode_preference(
        row, llama_tokenizer, "llama2", max_length=12, max_prompt_length=8, truncation="truncate"
    )
    assert cut["prompt_input_ids"].tolist() == full["prompt_input_ids"][-8:].tolist()
    assert cut["chosen_input_ids"].tolist() == full["chosen_input_ids"][p - 8 : p + 4].tolist()
    assert cut["chosen_labels"].tolist() == full["chosen_labels"][p - 8 : p + 4].tolist()
    assert cut["rejected_input_ids"].tolist() == full["rejected_input_ids"][p - 8 :].tolist()
    with pytest.raises(RowError, match=r"preference\.too_long"):  # no room for any answer
        sd.encode_preference(row, llama_tokenizer, "llama2", max_length=p, truncation="truncate")


def test_malformed_rows_are_rejected_with_reasons_and_keep_their_place(
    llama_tokenizer: Any,
) -> None:
    """Bad prompts and answers become rejected rows; rows already rejected pass through."""
    asst = [{"role": "assistant", "content": "ok"}]
    batch = {
        "prompt": ["hi", [{"role": "user", "content": "q"}, *asst], None, "hi", "hi", "hi", "hi"],
        "chosen": ["a", "a", "a", [{"role": "user", "content": "x"}], [], 7, "a"],
        "rejected": ["b", "b", "b", "b", "b", "b", "b"],
        "drop_reason": [None, None, None, None, None, None, "quality.too_short"],
    }
    out = sd.EncodePreference(llama_tokenizer, "llama2", max_length=64)(batch)
    assert out["drop_reason"] == [
        None,
        "preference.bad_prompt",
        "preference.bad_prompt",
        "preference.bad_answer",
        "preference.bad_answer",
        "preference.bad_answer",
        "quality.too_short",
    ]
    assert all(len(out[k][i]) == 0 for k in COLUMNS for i in range(1, 7))
    assert len(out["chosen_input_ids"][0]) > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_length": 0}, "max_length"),
        ({"max_length": 16, "max_prompt_length": 16}, "max_prompt_length"),
        ({"max_length": 16, "truncation": "left"}, "truncation"),
    ],
)
def test_bad_arguments_fail_before_any_work(
    llama_tokenizer: Any, kwargs: dict[str, Any], match: str
) -> None:
    """A bad setting raises SftDataError naming it, at construction."""
    with pytest.raises(SftDataError, match=match):
        sd.EncodePreference(llama_tokenizer, "llama2", **kwargs)


def test_a_batch_without_the_columns_names_them(llama_tokenizer: Any) -> None:
    """A batch missing prompt/chosen/rejected raises, naming what is missing."""
    step = sd.EncodePreference(llama_tokenizer, "llama2", max_length=16)
    with pytest.raises(SftDataError, match="rejected"):
        step({"prompt": ["a"], "chosen": ["b"]})
