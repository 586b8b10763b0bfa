"""Pretraining tokenization: train a small tokenizer, then cut a corpus into fixed blocks.

Every document is tokenized, gets one EOS appended, and all documents are
concatenated and cut into rows of exactly ``block_size`` tokens (the last partial
block is dropped and counted)::

    docs      [a a a EOS] [b b EOS] [c c c c c EOS]
    stream     a a a EOS b b EOS c c c c c EOS
    blocks    |a a a EOS|b b EOS c|c c c c|  (block_size=4; "c EOS" dropped: 2 tokens)
    positions |0 1 2 3  |0 1 2  0|0 1 2 3|   (respect_documents=True: restart per document
                                              and per block)

Shards are parquet files with ``input_ids`` (``uint16`` when the vocabulary fits,
else ``int32``) and, with ``respect_documents``, ``position_ids``; ``manifest.json``
(token counts, shard list with sha256, tokenizer hash) is written last, so a
folder without it is an unfinished write. :func:`load_blocks` reads only the shards
the manifest lists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from sftdata._contract import SftDataError
from sftdata._sentencepiece import fast_from_sentencepiece
from sftdata.runner._io import atomic_write_bytes, write_table_file

TokenizerKind = Literal["bpe", "unigram"]
DEFAULT_SPECIAL_TOKENS: tuple[str, ...] = ("<|endoftext|>",)

__all__ = [
    "DEFAULT_SPECIAL_TOKENS",
    "Manifest",
    "fast_from_sentencepiece",
    "load_blocks",
    "load_tokenizer",
    "save_tokenizer",
    "tokenize_corpus",
    "tokenizer_hash",
    "train_tokenizer",
]


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    *,
    kind: TokenizerKind = "bpe",
    special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS,
    min_frequency: int = 2,
    out_dir: str | Path | None = None,
) -> Any:
    """Train a ``tokenizers.Tokenizer`` on ``texts`` (byte-level BPE by default).

    The first special token is the end-of-document token. With ``out_dir``, writes
    ``tokenizer.json`` and ``tokenizer_config.json`` there, loadable by
    ``transformers.PreTrainedTokenizerFast`` / ``AutoTokenizer``.

    >>> tok = train_tokenizer(["low lower lowest", "new newer newest"] * 20, 300)
    >>> tok.decode(tok.encode("newest lower").ids)
    'newest lower'
    >>> tok.token_to_id("<|endoftext|>")
    0
    """
    special = list(dict.fromkeys(special_tokens))
    if kind not in ("bpe", "unigram"):
        raise SftDataError(f"kind must be 'bpe' or 'unigram', got {kind!r}")
    if not special or not all(isinstance(s, str) and s for s in special):
        raise SftDataError(
            f"special_tokens must hold at least one non-empty string (the EOS), got {special!r}"
        )
    floor = 256 + len(special) if kind == "bpe" else len(special) + 2
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < floor:
        raise SftDataError(
            f"vocab_size must be an integer >= {floor} for {kind}, got {vocab_size!r}"
        )
    tok, trainer = _untrained(kind, vocab_size, special, min_frequency)
    tok.train_from_iterator((t for t in texts if isinstance(t, str)), trainer)
    if out_dir is not None:
        save_tokenizer(tok, out_dir, eos_token=special[0])
    return tok


def _untrained(
    kind: str, vocab_size: int, special: list[str], min_frequency: int
) -> tuple[Any, Any]:
    """An empty tokenizer of ``kind`` and its trainer (unigram gets an ``<unk>`` token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer: Any = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        return tok, trainer
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = special + ([] if "<unk>" in special else ["<unk>"])
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>", show_progress=False
    )
    return tok, trainer


def save_tokenizer(tok: Any, out_dir: str | Path, *, eos_token: str) -> Path:
    """Write ``tokenizer.json`` + ``tokenizer_config.json`` (atomically) into ``out_dir``."""
    d = Path(out_dir)
    atomic_write_bytes(d / "tokenizer.json", tok.to_str().encode())
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": eos_token,
        "bos_token": None,
        "model_max_length": 1_000_000,
    }
    atomic_write_bytes(d / "tokenizer_config.json", json.dumps(config, indent=2).encode())
    return d


def load_tokenizer(path: str | Path) -> Any:
    """A ``tokenizers.Tokenizer`` from ``tokenizer.json`` or a folder holding it."""
    from tokenizers import Tokenizer

    p = Path(path)
    file = p / "tokenizer.json" if p.is_dir() else p
    if not file.exists():
        raise SftDataError(f"no tokenizer.json at {p}")
    return Tokenizer.from_file(str(file))


def _backend(tokenizer: Any) -> Any:
    """The ``tokenizers.Tokenizer`` behind a fast transformers tokenizer (or itself)."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if not hasattr(backend, "encode_batch") or not hasattr(backend, "to_str"):
        raise SftDataError(
            f"need a `tokenizers.Tokenizer` or a fast transformers tokenizer, got {type(tokenizer).__name__}"
        )
    return backend


def tokenizer_hash(tokenizer: Any) -> str:
    """sha256 of what decides the ids of a corpus: model, normalizer, pre-tokenizer, added tokens.

    Runtime settings (padding, truncation) and the post-processor (unused: documents
    are encoded without special tokens, EOS is appended by us) do not count, so the
    trained object and the same file loaded by transformers hash alike.
    """
    spec = json.loads(_backend(tokenizer).to_str())
    parts = {k: spec.get(k) for k in ("model", "normalizer", "pre_tokenizer", "added_tokens")}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass
class Manifest:
    """What :func:`tokenize_corpus` wrote (also stored as ``manifest.json``)."""

    block_size: int
    dtype: str
    eos_id: int
    vocab_size: int
    tokenizer_sha256: str
    respect_documents: bool
    num_documents: int = 0
    num_blocks: int = 0
    num_tokens: int = 0
    tokens_dropped: int = 0
    shards: list[dict[str, Any]] = field(default_factory=list)


def _blocks_table(ids: np.ndarray, starts: np.ndarray | None, m: Manifest) -> pa.Table:
    """Rows of ``block_size`` from flat ``ids`` (and document start of every token)."""
    n, b = ids.size // m.block_size, m.block_size
    offsets = pa.array(np.arange(0, n * b + 1, b, dtype=np.int32))
    cols = {"input_ids": pa.ListArray.from_arrays(offsets, pa.array(ids.astype(m.dtype)))}
    if starts is not None:
        g = np.arange(ids.size, dtype=np.int64)
        block_start = (g // b) * b
        pos = g - np.maximum(starts, block_start)
        dtype = np.uint16 if b <= 65536 else np.int32
        cols["position_ids"] = pa.ListArray.from_arrays(offsets, pa.array(pos.astype(dtype)))
    return pa.table(cols)


def _encoded(backend: Any, texts: Iterable[Any], batch: int) -> Iterator[list[list[int]]]:
    chunk: list[str] = []
    for t in texts:
        if not isinstance(t, str):
            raise SftDataError(f"corpus rows must be str, got {type(t).__name__}")
        chunk.append(t)
        if len(chunk) == batch:
            yield [e.ids for e in backend.encode_batch(chunk, add_special_tokens=False)]
            chunk = []
    if chunk:
        yield [e.ids for e in backend.encode_batch(chunk, add_special_tokens=False)]


def _eos_id(backend: Any, eos_token: str | None) -> int:
    name = eos_token or DEFAULT_SPECIAL_TOKENS[0]
    eos = backend.token_to_id(name)
    if eos is None:
        raise SftDataError(f"the tokenizer has no EOS token {name!r}; pass eos_token=")
    return int(eos)


def tokenize_corpus(
    texts: Iterable[str],
    tokenizer: Any,
    *,
    block_size: int,
    out_dir: str | Path,
    eos_token: str | None = None,
    respect_documents: bool = False,
    blocks_per_shard: int = 4096,
    batch_size: int = 1000,
) -> Manifest:
    """Tokenize ``texts``, append EOS per document, cut into ``block_size`` rows, write shards.

    >>> import tempfile
    >>> tok = train_tokenizer(["a b c d e f g"] * 10, 270)
    >>> m = tokenize_corpus(["a b", "c d e"], tok, block_size=4, out_dir=tempfile.mkdtemp())
    >>> m.num_tokens + m.tokens_dropped == len(tok.encode("a b").ids) + len(tok.encode("c d e").ids) + 2
    True
    """
    for name, v in (
        ("block_size", block_size),
        ("blocks_per_shard", blocks_per_shard),
        ("batch_size", batch_size),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SftDataError(f"{name} must be a positive integer, got {v!r}")
    backend = _backend(tokenizer)
    vocab = int(backend.get_vocab_size(with_added_tokens=True))
    m = Manifest(
        block_size=block_size,
        dtype="uint16" if vocab <= 65536 else "int32",
        eos_id=_eos_id(backend, eos_token),
        vocab_size=vocab,
        tokenizer_sha256=tokenizer_hash(backend),
        respect_documents=respect_documents,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    for old in out.glob("tokens-*.parquet"):
        old.unlink()
    _stream_blocks(_encoded(backend, texts, batch_size), m, out, blocks_per_shard)
    atomic_write_bytes(out / "manifest.json", json.dumps(asdict(m), indent=2).encode())
    return m


def _stream_blocks(
    batches: Iterable[list[list[int]]], m: Manifest, out: Path, blocks_per_shard: int
) -> None:
    """Append EOS per document, keep a carry-over, write a shard per ``blocks_per_shard``."""
    pending = np.zeros(0, dtype=np.int64)
    starts = np.zeros(0, dtype=np.int64)
    base = 0  # global index of pending[0]
    for ids_batch in batches:
        docs = [np.asarray([*ids, m.eos_id], dtype=np.int64) for ids in ids_batch]
        m.num_documents += len(docs)
        lens = np.array([d.size for d in docs], dtype=np.int64)
        first = base + pending.size + np.concatenate([[0], np.cumsum(lens)[:-1]])
        pending = np.concatenate([pending, *docs])
        starts = np.concatenate([starts, np.repeat(first, lens)])
        shard = m.block_size * blocks_per_shard
        while pending.size >= shard:
            rel = starts[:shard] - base if m.respect_documents else None
            _write_shard(out, pending[:shard], rel, m)
            pending, starts, base = pending[shard:], starts[shard:], base + shard
    full = (pending.size // m.block_size) * m.block_size
    if full:
        _write_shard(out, pending[:full], starts[:full] - base if m.respect_documents else None, m)
    m.tokens_dropped = int(pending.size - full)


def _write_shard(out: Path, ids: np.ndarray, starts: np.ndarray | None, m: Manifest) -> None:
    if starts is not None:
        starts = np.clip(starts, 0, None)
    table = _blocks_table(ids, starts, m)
    name = f"tokens-{len(m.shards):05d}.parquet"
    digest = write_table_file(table, out / name, durable=True)
    m.shards.append({"name": name, "rows": table.num_rows, "sha256": digest})
    m.num_blocks += table.num_rows
    m.num_tokens += int(ids.size)


def load_blocks(path: str | Path, *, verify: bool = True) -> Any:
    """The blocks as a ``datasets.Dataset``, reading only shards the manifest lists.

    With ``verify``, a shard whose sha256 differs from the manifest is an error.
    """
    import datasets
    import pyarrow.parquet as pq

    d = Path(path)
    if not (d / "manifest.json").exists():
        raise SftDataError(f"{d}: no manifest.json (tokenization unfinished or not run)")
    manifest = json.loads((d / "manifest.json").read_text())
    tables = []
    for shard in manifest["shards"]:
        file = d / shard["name"]
        if verify and hashlib.sha256(file.read_bytes()).hexdigest() != shard["sha256"]:
            raise SftDataError(f"{file}: content does not match manifest.json (sha256)")
        tables.append(pq.read_table(file))
    if not tables:
        ids = pa.list_(pa.from_numpy_dtype(np.dtype(manifest["dtype"])))
        empty = {"input_ids": pa.array([], ids)}
        if manifest["respect_documents"]:
            pos = np.uint16 if manifest["block_size"] <= 65536 else np.int32
            empty["position_ids"] = pa.array([], pa.list_(pa.from_numpy_dtype(pos)))
        return datasets.Dataset(pa.table(empty))
    return datasets.Dataset(pa.concat_tables(tables))
