"""Pretraining tokenization: tokenizer training, fixed-size blocks, shards and manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import PreTrainedTokenizerFast

from sftdata import SftDataError
from sftdata.tokenize import load_blocks, tokenize_corpus, tokenizer_hash, train_tokenizer
from tests.strategies import plain_text, words

CORPUS = [
    f"Document {i}: the quick brown fox jumps over the lazy dog, número {i}, café ☕ {'x' * (i % 5)}"
    for i in range(120)
]


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bpe")
    train_tokenizer(CORPUS, 400, out_dir=d)
    return d


@pytest.fixture(scope="module")
def loaded(bpe_dir: Path) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast.from_pretrained(str(bpe_dir))


@pytest.fixture(scope="module")
def reference(bpe_dir: Path) -> PreTrainedTokenizerFast:
    """The saved tokenizer as transformers loads it: the independent encoder to compare with."""
    return PreTrainedTokenizerFast(tokenizer_file=str(bpe_dir / "tokenizer.json"))


@given(text=plain_text)
def test_byte_level_bpe_round_trips_any_text(reference: PreTrainedTokenizerFast, text: str) -> None:
    """decode(encode(text)) == text for any Unicode text (byte-level BPE has no unknowns)."""
    ids = reference(text, add_special_tokens=False)["input_ids"]
    assert reference.decode(ids) == text


@settings(max_examples=20)
@given(
    docs=st.lists(st.one_of(words, plain_text), max_size=12),
    block_size=st.integers(min_value=1, max_value=40),
    per_shard=st.integers(min_value=8, max_value=12),
)
def test_blocks_are_the_eos_joined_stream_cut_into_blocks(
    tmp_path_factory, loaded, reference, docs, block_size, per_shard
) -> None:
    """Blocks, read back in manifest order, are the EOS-joined token stream minus a short tail."""
    out = tmp_path_factory.mktemp("blocks")
    tok = loaded
    m = tokenize_corpus(docs, tok, block_size=block_size, out_dir=out, blocks_per_shard=per_shard)
    eos = reference.convert_tokens_to_ids("<|endoftext|>")
    stream = [t for d in docs for t in [*reference(d, add_special_tokens=False)["input_ids"], eos]]
    blocks = load_blocks(out)["input_ids"]
    assert all(len(b) == block_size for b in blocks)
    flat = [t for b in blocks for t in b]
    assert flat == stream[: len(flat)]
    assert 0 <= len(stream) - len(flat) < block_size
    assert (m.num_tokens, m.tokens_dropped, m.num_documents) == (
        len(flat),
        len(stream) - len(flat),
        len(docs),
    )
    assert sum(s["rows"] for s in m.shards) == len(blocks)
    assert all(s["rows"] <= per_shard for s in m.shards)


@settings(max_examples=20)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=10),
    block_size=st.integers(min_value=1, max_value=16),
)
def test_position_ids_restart_at_every_document_and_block(
    tmp_path_factory, loaded, lengths, block_size
) -> None:
    """With respect_documents, a position is 0 right after an EOS or at a block start, else +1."""
    out = tmp_path_factory.mktemp("pos")
    tok = loaded
    docs = [" ".join(["fox"] * n) for n in lengths]
    tokenize_corpus(
        docs, tok, block_size=block_size, out_dir=out, respect_documents=True, blocks_per_shard=2
    )
    ds = load_blocks(out)
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    for ids, pos in zip(ds["input_ids"], ds["position_ids"], strict=True):
        for j in range(len(ids)):
            expected = 0 if j == 0 or ids[j - 1] == eos else pos[j - 1] + 1
            assert pos[j] == expected


def test_saved_tokenizer_loads_in_transformers_and_matches(bpe_dir: Path) -> None:
    """The saved folder loads with PreTrainedTokenizerFast and encodes like the trained object."""
    tok = train_tokenizer(CORPUS, 400)
    loaded = PreTrainedTokenizerFast.from_pretrained(str(bpe_dir))
    text = "the lazy café fox"
    assert loaded(text, add_special_tokens=False)["input_ids"] == tok.encode(text).ids
    assert loaded.eos_token == "<|endoftext|>"
    assert tokenizer_hash(loaded) == tokenizer_hash(tok)


def test_training_is_deterministic(tmp_path: Path) -> None:
    """Two trainings on the same texts save byte-identical tokenizer.json files."""
    for name in ("a", "b"):
        train_tokenizer(CORPUS, 350, out_dir=tmp_path / name)
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (
        tmp_path / "b" / "tokenizer.json"
    ).read_bytes()


def test_unigram_tokenizer_trains_and_tokenizes(tmp_path: Path) -> None:
    """kind='unigram' trains a tokenizer whose blocks decode back to the corpus words."""
    tok = train_tokenizer(CORPUS, 120, kind="unigram", out_dir=tmp_path / "tok")
    loaded = PreTrainedTokenizerFast.from_pretrained(str(tmp_path / "tok"))
    m = tokenize_corpus(CORPUS[:5], loaded, block_size=16, out_dir=tmp_path / "blocks")
    text = loaded.decode([t for b in load_blocks(tmp_path / "blocks")["input_ids"] for t in b])
    assert text.startswith("Document 0: the quick brown fox")
    assert m.vocab_size == tok.get_vocab_size(with_added_tokens=True)


@pytest.mark.slow
def test_dtype_is_uint16_when_the_vocabulary_fits_else_int32(tmp_path: Path) -> None:
    """uint16 ids for a vocabulary of <= 65536 entries, int32 beyond."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    for size, dtype in ((65_536, "uint16"), (70_000, "int32")):
        vocab = {"<|endoftext|>": 0, "[UNK]": 1, **{f"w{i}": i + 2 for i in range(size - 2)}}
        tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        out = tmp_path / dtype
        m = tokenize_corpus([f"w{size - 3} w5"], tok, block_size=3, out_dir=out)
        assert m.dtype == dtype
        ds = load_blocks(out)
        assert ds.features["input_ids"].feature.dtype == dtype
        assert ds["input_ids"] == [[size - 1, 7, 0]]


def test_only_manifest_shards_are_read_and_corruption_is_caught(tmp_path: Path, bpe_dir) -> None:
    """A stray half-written shard is ignored; a changed listed shard fails the sha256 check."""
    tok = PreTrainedTokenizerFast.from_pretrained(str(bpe_dir))
    m = tokenize_corpus(CORPUS[:20], tok, block_size=8, out_dir=tmp_path, blocks_per_shard=8)
    (tmp_path / "tokens-99999.parquet").write_bytes(b"PAR1 half written")
    assert len(load_blocks(tmp_path)) == m.num_blocks
    first = tmp_path / m.shards[0]["name"]
    first.write_bytes(first.read_bytes()[:-1] + b"X")
    with pytest.raises(SftDataError, match="sha256"):
        load_blocks(tmp_path)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(SftDataError, match="no manifest"):
        load_blocks(tmp_path)
    assert json.loads(json.dumps(m.shards))[0]["rows"] == 8


def test_real_sentencepiece_tokenizer_blocks(tmp_path: Path, llama_tokenizer) -> None:
    """The LLaMA tokenizer works too: EOS is </s> and ids fit uint16."""
    m = tokenize_corpus(
        CORPUS[:10], llama_tokenizer, block_size=32, out_dir=tmp_path, eos_token="</s>"
    )
    assert m.dtype == "uint16" and m.eos_id == llama_tokenizer.eos_token_id
    flat = [t for b in load_blocks(tmp_path)["input_ids"] for t in b]
    expected = [*llama_tokenizer(CORPUS[0], add_special_tokens=False)["input_ids"], m.eos_id]
    assert flat[: len(expected)] == expected


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"vocab_size": 100}, "vocab_size must be an integer >= 257"),
        ({"vocab_size": 400, "kind": "wordpiece"}, "kind must be"),
        ({"vocab_size": 400, "special_tokens": []}, "special_tokens"),
    ],
)
def test_bad_training_arguments_fail_before_training(kwargs, pattern) -> None:
    """Bad arguments raise SftDataError naming the argument."""
    with pytest.raises(SftDataError, match=pattern):
        train_tokenizer(CORPUS, **kwargs)


def test_bad_corpus_arguments(tmp_path: Path, bpe_dir) -> None:
    """A bad block size, a missing EOS token or a non-str document is one clear error."""
    tok = PreTrainedTokenizerFast.from_pretrained(str(bpe_dir))
    with pytest.raises(SftDataError, match="block_size"):
        tokenize_corpus(["a"], tok, block_size=0, out_dir=tmp_path)
    with pytest.raises(SftDataError, match="no EOS token '<eos>'"):
        tokenize_corpus(["a"], tok, block_size=2, out_dir=tmp_path, eos_token="<eos>")
    with pytest.raises(SftDataError, match="must be str"):
        tokenize_corpus(["a", 3], tok, block_size=2, out_dir=tmp_path)  # type: ignore[list-item]
