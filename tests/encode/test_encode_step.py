"""Encode as a datasets step: batch-size invariance, pickling, stable fingerprints, one call per batch."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import datasets
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sftdata as sd
from tests.strategies import conversations

ROOT = Path(__file__).resolve().parents[2]


def _rows(n: int) -> list[list[dict[str, str]]]:
    convs = []
    for i in range(n):
        convs.append(
            [
                {"role": "user", "content": f"question {i} " * (1 + i % 5)},
                {"role": "assistant", "content": f"answer </s> {i} " * (1 + i % 7)},
            ]
        )
    convs[3] = [{"role": "user", "content": "no answer"}]  # one rejected row
    return convs


@pytest.mark.slow
def test_map_with_batch_sizes_1_7_1000_gives_identical_rows(llama_tokenizer: Any) -> None:
    """sd.apply(ds, Encode) (datasets.map, batched) is batch-size invariant (1, 7 and 1000)."""
    ds = datasets.Dataset.from_dict({"messages": _rows(40)})
    step = sd.Encode(llama_tokenizer, "llama2", max_length=60)
    outs = [
        sd.apply(ds, step, batch_size=bs, load_from_cache_file=False).to_dict()
        for bs in (1, 7, 1000)
    ]
    assert outs[0] == outs[1] == outs[2]
    assert outs[0]["drop_reason"].count("parse.no_assistant") == 1
    assert "encode.too_long" in outs[0]["drop_reason"]
    assert len(outs[0]["input_ids"]) == 40


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(convs=st.lists(conversations(max_turns=3), min_size=2, max_size=5))
def test_batched_rows_equal_rows_encoded_alone(convs: list[Any], chatml_tokenizer: Any) -> None:
    """Encoding a batch gives, row for row, what encoding each row alone gives."""
    step = sd.Encode(chatml_tokenizer, "chatml", max_length=100_000)
    together = step({"messages": convs})
    for i, conv in enumerate(convs):
        alone = step({"messages": [conv]})
        for key in ("input_ids", "labels", "attention_mask"):
            assert together[key][i].tolist() == alone[key][0].tolist()


class _CountingTokenizer:
    """The real tokenizer, counting how often it is called (a spy, not a fake)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.inner(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_one_tokenizer_call_per_batch(chatml_tokenizer: Any) -> None:
    """A batch of many multi-turn rows makes exactly one tokenizer call."""
    spy = _CountingTokenizer(chatml_tokenizer)
    out = sd.Encode(spy, "chatml", max_length=4096)({"messages": _rows(25)})
    assert spy.calls == 1
    assert sum(r is None for r in out["drop_reason"]) == 24


def test_step_pickles_and_keeps_working(llama_tokenizer: Any) -> None:
    """A pickled and unpickled step encodes identically."""
    step = sd.Encode(llama_tokenizer, "mistral", max_length=64)
    again = pickle.loads(pickle.dumps(step))
    batch = {"messages": _rows(5)}
    assert [x.tolist() for x in again(batch)["input_ids"]] == [
        x.tolist() for x in step(batch)["input_ids"]
    ]


_FINGERPRINT = """
import sys
from datasets.fingerprint import Hasher
from transformers import LlamaTokenizer
import sftdata as sd
tok = LlamaTokenizer.from_pretrained(sys.argv[1])
step = sd.Encode(tok, "llama2", max_length=64)
before = Hasher.hash(step)
step({"messages": [[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]]})
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
    here = Hasher.hash(sd.Encode(fresh, "llama2", max_length=64))
    assert before == after == here


def test_public_tokenizer_path_gives_the_same_rows(llama_tokenizer_dir: Path) -> None:
    """With the Rust backend busy with its own truncation, Encode falls back to tokenizer(...) and agrees."""
    from tests.encode.conftest import make_chatml_tokenizer

    plain, configured = (make_chatml_tokenizer(llama_tokenizer_dir) for _ in range(2))
    configured.backend_tokenizer.enable_truncation(max_length=100_000)
    batch = {"messages": _rows(12)}
    a = sd.Encode(plain, "chatml", max_length=4096)(batch)
    b = sd.Encode(configured, "chatml", max_length=4096)(batch)
    for key in ("input_ids", "labels"):
        assert [x.tolist() for x in a[key]] == [x.tolist() for x in b[key]]


def _erasing_tokenizer() -> Any:
    """A real byte-level BPE tokenizer whose normalizer deletes zero-width spaces, so a
    piece made of them alone has no token at all."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.Replace(Regex("\u200b"), "")
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(["some plain words to learn from, again and again"] * 5, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")


def test_a_piece_without_tokens_keeps_every_other_row_in_place() -> None:
    """Documents that normalize to nothing sit between ordinary ones: each row is exactly
    BOS + tokenizer(text) + EOS, whatever batch it is encoded in."""
    tok = _erasing_tokenizer()
    texts = ["plain words", "\u200b", "again", "\u200b\u200b", "words " * 300, "x"]
    step = sd.EncodeText(tok)
    out = step({"text": texts})
    for i, text in enumerate(texts):
        want = [tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]
        want.append(tok.eos_token_id)
        assert out["input_ids"][i].tolist() == want
        assert step({"text": [text]})["input_ids"][0].tolist() == want
    assert len(out["input_ids"][1]) == 2  # BOS and EOS alone
    # Many documents: several words per tokenizer sequence, empty ones among long ones.
    many = ["words again " * 20 if i % 2 else "\u200b" for i in range(130)]
    out = step({"text": many})
    for i in (0, 1, 2, 63, 64, 65, 129):
        want = [tok.bos_token_id, *tok(many[i], add_special_tokens=False)["input_ids"]]
        assert out["input_ids"][i].tolist() == [*want, tok.eos_token_id]


@pytest.mark.parametrize("rows", [4, 63, 65, 200])
def test_rows_do_not_depend_on_how_the_batch_is_grouped(rows: int, chatml_tokenizer: Any) -> None:
    """Few long rows and many short ones (the tokenizer call groups words either way)."""
    convs = _rows(rows)
    long_answer = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a b " * 800}]
    convs[0] = long_answer
    step = sd.Encode(chatml_tokenizer, "chatml", max_length=100_000)
    together = step({"messages": convs})
    for i in (0, rows // 2, rows - 1):
        alone = step({"messages": [convs[i]]})
        for key in ("input_ids", "labels"):
            assert together[key][i].tolist() == alone[key][0].tolist()


def test_threads_sharing_a_tokenizer_get_the_same_rows_and_leave_it_unchanged(
    llama_tokenizer_dir: Path,
) -> None:
    """Four threads encode with one legacy=False tokenizer (START and CONT pieces need
    different pre-tokenizers): every batch equals the single-thread result and the
    tokenizer the user holds is never modified."""
    import threading

    from transformers import LlamaTokenizer

    tok = LlamaTokenizer.from_pretrained(str(llama_tokenizer_dir), legacy=False)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    backend = tok.backend_tokenizer
    before = (backend.pre_tokenizer.__getstate__(), backend.encode_special_tokens)
    hi = tok("hi", add_special_tokens=False)["input_ids"]
    rows = [
        [
            {"role": "user", "content": f"q{i} " * 30},
            {"role": "assistant", "content": f"a{i} " * 30},
        ]
        for i in range(200)
    ]
    steps = [sd.Encode(tok, name, max_length=100_000) for name in ("chatml", "llama2")]
    want = [[x.tolist() for x in s({"messages": rows})["input_ids"]] for s in steps]
    wrong: list[int] = []

    def work(k: int) -> None:
        step = steps[k % 2]
        for _ in range(5):
            got = [x.tolist() for x in step({"messages": rows})["input_ids"]]
            wrong.append(sum(a != b for a, b in zip(got, want[k % 2], strict=True)))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wrong) == 20 and sum(wrong) == 0
    assert (backend.pre_tokenizer.__getstate__(), backend.encode_special_tokens) == before
    assert tok("hi", add_special_tokens=False)["input_ids"] == hi
