"""Internals of :mod:`sftdata.encode._encode`: one batched tokenizer call, then ids and labels.

The plans of a batch (see :mod:`sftdata.encode._plan`) become three kinds of tokens:

* control tokens and glue pieces (no message content) come from a :class:`SharedPieces`
  table: tokenized once per step, then copied;
* every content piece of every row is one pre-split *word* of ONE Rust tokenizer call
  (two when a tokenizer prefixes only the start of a call and both START and CONT
  pieces occur): each word is normalized, pre-tokenized and tokenized on its own,
  which is exactly tokenizing each piece separately. The call goes to a private copy
  of the tokenizer's Rust backend set up for it, never to the user's tokenizer
  changed and changed back;
* a piece partly trained (an assistant header and its answer) is cut where the token
  offsets cross the trained character range.

The rows are then assembled with a handful of numpy calls for the whole batch: each row
is a list of *chunks* (start in the token table, length, trained) and one gather builds
``input_ids``; ``labels`` are the ids where a chunk (or a shared piece's own mask) is
trained, else ``-100``.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from sftdata._contract import DROP_REASON, IGNORE_INDEX, Batch, RowError, SftDataError
from sftdata._tokenizer_copies import copies
from sftdata.encode._plan import CONT, SPECIAL, START, TOKENIZE_AS, Piece, Program, Row
from sftdata.templates._segments import no_start_prefix, public_call, special_token_id

ENCODED = ("input_ids", "labels", "attention_mask")


class SharedPieces:
    """Ids and label masks of the pieces rows share (control tokens, glue), once per step.

    A piece (the plan tuple itself: kind, text, trained ranges) maps to a run of the
    table; a piece's tokens never depend on its neighbours, so copying them is exactly
    tokenizing it again. Append-only; additions happen under a lock and each batch
    works on a snapshot. Its size is bounded: the pieces are control tokens and the
    glue of a built-in template's shapes (a jinja template's glue is tokenized per row).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: Any = None  # the tokenizer state the table was made with
        self.generation = 0  # a program's cached chunks belong to one generation
        self._clear()

    def _clear(self) -> None:
        self.where: dict[Piece, tuple[int, int, int]] = {}  # piece -> (start, length, trained)
        self.ids: list[int] = []
        self.mask: list[bool] = []
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    def sync(self, state: Any) -> None:
        """Start the table over when the tokenizer changed since it was filled."""
        with self.lock:
            if state != self.state:
                self._clear()
                self.state = state
                self.generation += 1

    def add(self, piece: Piece, ids: Sequence[int], mask: Sequence[bool]) -> None:
        if piece in self.where:
            return
        self.where[piece] = (len(self.ids), len(ids), sum(mask))
        self.ids += ids
        self.mask += mask
        self._arrays = None

    def snapshot(self) -> tuple[dict[Piece, tuple[int, int, int]], np.ndarray, np.ndarray]:
        with self.lock:
            if self._arrays is None:
                self._arrays = (np.array(self.ids, np.int32), np.array(self.mask, bool))
            return dict(self.where), *self._arrays


class Assembled(NamedTuple):
    """A batch's tokens: flat ``ids`` / ``labels``, each row's ``[start, end)`` and
    trained-token count (``None`` / 0 for a row without a plan)."""

    ids: np.ndarray
    labels: np.ndarray
    bounds: list[tuple[int, int] | None]
    trained: list[int]


def tokenize(tokenizer: Any, rows: list[Row | None], shared: SharedPieces) -> Assembled:
    """Token ids and labels of every planned row, with one tokenizer call per START/CONT kind."""
    made = copies(tokenizer)  # private copies of its Rust backend, when it has one
    if made is not None:
        split, start_backend, cont_backend, never = made.split, made.start, made.cont, None
    else:  # its public call, the start prefix turned off for CONT words
        never = no_start_prefix(tokenizer)
        split, start_backend, cont_backend = never is not None, None, None
    shared.sync(made.state if made is not None else None)
    key = (split, shared.generation)  # what a program's cached chunks must have been made for
    # Pass 1: every word of each call, row after row; shared pieces not seen yet.
    calls: tuple[list[str], list[str]] = ([], [])
    word_base: tuple[list[int], list[int]] = ([0] * len(rows), [0] * len(rows))
    known = shared.where
    new: dict[Piece, None] = {}
    for r, row in enumerate(rows):
        if row is None:
            continue
        program, words = row.program, row.words
        chunks = program.chunks
        if chunks is None or chunks[0] != key:
            for item in program.layout:
                if not isinstance(item, int) and item not in known:
                    new[item] = None
        if not split:
            word_base[0][r] = len(calls[0])
            calls[0].extend(words)
            continue
        for c, kind in ((0, START), (1, CONT)):
            word_base[c][r] = len(calls[c])
            calls[c].extend(
                [w for w, k in zip(words, program.word_kinds, strict=True) if k == kind]
            )
    n_words = [len(calls[0]), len(calls[1])]
    # New glue pieces ride along as the last words of their call.
    new_text: list[list[Piece]] = [[], []]
    for piece in new:
        if piece[0] != SPECIAL and piece[1]:
            c = int(TOKENIZE_AS[piece[0]] == CONT and split)
            new_text[c].append(piece)
            calls[c].append(piece[1])
    encoded = [
        _Words(tokenizer, calls[0], start_backend, None),
        _Words(tokenizer, calls[1], cont_backend, never),
    ]
    _learn(tokenizer, shared, new, new_text, encoded, n_words)
    snapshot = shared.snapshot()
    return _assemble(rows, key, snapshot, encoded, word_base, n_words)


# Words go to the Rust call in groups, each one pre-split sequence (each word is still
# normalized, pre-tokenized and tokenized on its own): few Python objects per batch,
# at least ~_GROUPS sequences for the tokenizer's threads to share out, and no more
# than _GROUP_CHARS characters in a group, so that a word's token run (found by a
# scan of its group) stays cheap to find.
_GROUPS = 64
_GROUP_CHARS = (2_048, 16_384)


class _Words:
    """The tokens of one call's words: flat ids, each word's first token and length.

    A word that occurs several times in the call (the prompt of a preference pair in
    its three rows, a system prompt repeated across a batch) is tokenized once: the
    words are deduplicated before the Rust call and each occurrence points at the
    tokens of its first one (a word's tokens depend on its text alone).
    """

    def __init__(self, tokenizer: Any, words: list[str], backend: Any, never: Any) -> None:
        self.encodings: list[Any] = []
        self.ids = np.zeros(0, np.int32)
        self.first = np.zeros(0, np.int64)
        self.length = np.zeros(0, np.int64)
        self.bounds: list[int] = [0]
        self.group_start: list[int] = []
        self._unique: list[int] | None = None  # each word's index among the distinct words
        if not words:
            return
        seen: dict[str, int] = {}
        unique = [seen.setdefault(w, len(seen)) for w in words]
        if len(seen) < len(words):
            self._unique, words = unique, list(seen)
        chars = np.cumsum(np.fromiter(map(len, words), np.int64, len(words)))
        budget = min(max(int(chars[-1]) // _GROUPS, _GROUP_CHARS[0]), _GROUP_CHARS[1])
        cuts = np.searchsorted(chars, np.arange(budget, int(chars[-1]), budget), side="right")
        self.bounds = sorted({0, *cuts.tolist(), len(words)})
        bounds = self.bounds
        groups = [words[a:b] for a, b in itertools.pairwise(bounds)]
        if backend is not None:  # one call of the private Rust backend, words pre-split
            self.encodings = backend.encode_batch(
                groups, is_pretokenized=True, add_special_tokens=False
            )
        else:
            self.encodings = _encode_rows_public(tokenizer, groups, never)
        id_lists = [e.ids for e in self.encodings]
        sizes = [len(x) for x in id_lists]
        self.ids = np.fromiter(itertools.chain.from_iterable(id_lists), np.int32, sum(sizes))
        self.group_start = list(itertools.accumulate(sizes, initial=0))[:-1]
        # Each word's first token and token count. Encoding.word_to_tokens scans the
        # group per call: cheaper than converting every token's word id only for a
        # group of a few words with many tokens.
        firsts, lengths = [], []
        for e, n, tokens, base in zip(
            self.encodings, np.diff(bounds).tolist(), sizes, self.group_start, strict=True
        ):
            if n < 40 and tokens > 8 * n:
                to_tokens = e.word_to_tokens
                spans = _fill_empty([to_tokens(i) for i in range(n)])
                ab = np.fromiter(itertools.chain.from_iterable(spans), np.int64, 2 * n)
                firsts.append(ab[0::2] + base)
                lengths.append(ab[1::2] - ab[0::2])
            else:
                count = np.bincount(np.array(e.word_ids, np.int64), minlength=n)
                firsts.append(np.cumsum(count) - count + base)
                lengths.append(count)
        self.first = np.concatenate(firsts)
        self.length = np.concatenate(lengths)
        if self._unique is not None:  # back from distinct words to every occurrence
            at = np.array(self._unique, np.int64)
            self.first, self.length = self.first[at], self.length[at]

    def locate(self, g: int, first: int) -> tuple[Any, int]:
        """The encoding holding word ``g`` and the index there of its first token ``first``."""
        if self._unique is not None:
            g = self._unique[g]
        q = bisect.bisect_right(self.bounds, g) - 1
        return self.encodings[q], first - self.group_start[q]


def _fill_empty(spans: list[Any]) -> list[tuple[int, int]]:
    """Give each word without tokens (``None``) an empty run where it stands."""
    if None not in spans:
        return spans
    out: list[tuple[int, int]] = []
    at = 0
    for span in spans:
        out.append(span if span is not None else (at, at))
        at = out[-1][1]
    return out


class _Joined:
    """The pieces of one row tokenized one by one, read like one Rust ``Encoding``."""

    def __init__(self, encodings: list[Any]) -> None:
        self.ids = [i for e in encodings for i in e.ids]
        self.offsets = [o for e in encodings for o in e.offsets]
        ends = list(itertools.accumulate(len(e.ids) for e in encodings))
        self._spans = [(b - len(e.ids), b) for e, b in zip(encodings, ends, strict=True)]

    def token_to_chars(self, i: int) -> tuple[int, int]:
        return self.offsets[i]

    @property
    def word_ids(self) -> list[int]:
        return [w for w, (a, b) in enumerate(self._spans) for _ in range(a, b)]

    def word_to_tokens(self, w: int) -> tuple[int, int] | None:
        a, b = self._spans[w]
        return (a, b) if b > a else None


def _encode_rows_public(tokenizer: Any, rows: list[list[str]], never: Any) -> list[Any]:
    """Any other tokenizer: its public call on the flat list of pieces (with the start
    prefix off while it runs, for CONT pieces), each row's pieces joined into one
    encoding-like object."""
    flat = [t for row in rows for t in row]
    # transformers turns split_special_tokens into a change of the backend for the call
    with public_call(tokenizer, continues=never is not None, never=never):
        enc = tokenizer(
            flat,
            add_special_tokens=False,
            return_offsets_mapping=True,
            split_special_tokens=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
    encodings = list(enc.encodings)
    out, k = [], 0
    for row in rows:
        out.append(_Joined(encodings[k : k + len(row)]))
        k += len(row)
    return out


def _learn(
    tokenizer: Any,
    shared: SharedPieces,
    new: dict[Piece, None],
    new_text: list[list[Piece]],
    encoded: list[_Words],
    first_new: list[int],
) -> None:
    """Put the batch's new control tokens and glue pieces into the shared table."""
    if not new:
        return
    with shared.lock:
        for piece in new:
            if piece[0] == SPECIAL:
                tid = special_token_id(tokenizer, piece[1])
                shared.add(piece, [tid], [bool(piece[2])])
            elif not piece[1]:
                shared.add(piece, [], [])
        for c in (0, 1):
            words = encoded[c]
            for k, piece in enumerate(new_text[c]):
                g = first_new[c] + k
                first, n = int(words.first[g]), int(words.length[g])
                enc, a = words.locate(g, first)
                mask = [False] * n
                for s, e in _token_runs(enc, a, a + n, piece[2]):
                    mask[s - a : e - a] = [True] * (e - s)
                shared.add(piece, words.ids[first : first + n].tolist(), mask)


def _token_runs(
    enc: Any, a: int, b: int, trained: tuple[tuple[int, int], ...]
) -> list[tuple[int, int]]:
    """For each trained char range, the run ``[first, last)`` of tokens in ``[a, b)``
    (one word of ``enc``) that overlap it; a run may be empty.

    A token overlaps ``[s, e)`` iff it ends after ``s`` and starts before ``e``; a
    zero-width token counts as covering the character it sits on. Offsets grow
    monotonically, so each run is found by a few probes and a bisection.
    """
    to_chars = enc.token_to_chars
    runs = []
    pos = a
    for s, e in trained:
        first = _first_past(to_chars, pos, b, s, -1)
        last = _first_at(to_chars, first, b, e)
        runs.append((first, last))
        pos = last
    return runs


def _first_past(to_chars: Any, lo: int, hi: int, s: int, guess: int) -> int:
    """First token in ``[lo, hi)`` that ends after char ``s``; ``hi`` if none.

    ``guess`` (where the same piece of the same shape had it last time) is checked
    first; else the first few tokens are probed (a turn header is a few tokens), then
    the rest bisected.
    """
    if lo < guess < hi:
        start, end = to_chars(guess - 1)
        if max(end, start + 1) <= s:
            start, end = to_chars(guess)
            if max(end, start + 1) > s:
                return guess
            lo = guess + 1
        else:
            hi = guess - 1  # that token is past: the answer is at most here
    else:
        for probe in range(lo, min(lo + 4, hi)):
            start, end = to_chars(probe)
            if max(end, start + 1) > s:
                return probe
            lo = probe + 1
    while lo < hi:
        mid = (lo + hi) // 2
        start, end = to_chars(mid)
        if max(end, start + 1) > s:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _first_at(to_chars: Any, lo: int, hi: int, e: int) -> int:
    """First token in ``[lo, hi)`` that starts at or after char ``e``; ``hi`` if none
    (checked first: a trained range usually runs to the end of its piece)."""
    if lo >= hi or to_chars(hi - 1)[0] < e:
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if to_chars(mid)[0] >= e:
            hi = mid
        else:
            lo = mid + 1
    return lo


# A program's chunks in its step's shared table: ((split, table generation), starts,
# sizes, flags, trained
# tokens of shared chunks, mixed, per call: the chunk positions of the words trained
# wholly or not at all, and their indices among the row's words of that call; partly
# trained words as (word, chunk position, call, index in call, partial index)). Word
# chunks hold placeholders until a batch fills them.
_Chunks = tuple[
    tuple[bool, int],
    list[int],
    list[int],
    list[bool],
    list[int],
    bool,
    tuple[list[int], list[int]],
    tuple[list[int], list[int]],
    list[tuple[int, int, int, int, int]],
]


def _layout(
    program: Program, where: dict[Piece, tuple[int, int, int]], key: tuple[bool, int]
) -> _Chunks:
    starts: list[int] = []
    sizes: list[int] = []
    flags: list[bool] = []
    fixed: list[int] = []  # a shared chunk's trained tokens; -1 for a word chunk
    mixed = False
    positions: tuple[list[int], list[int]] = ([], [])
    indices: tuple[list[int], list[int]] = ([], [])
    in_call = [0, 0]
    partial: list[tuple[int, int, int, int, int]] = []
    for item in program.layout:
        if isinstance(item, int):
            mode = program.word_modes[item]
            c = int(program.word_kinds[item] == CONT and key[0])
            here, index = len(starts), in_call[c]
            in_call[c] += 1
            if mode > 0:
                partial.append((item, here, c, index, len(partial)))
            else:
                positions[c].append(here)
                indices[c].append(index)
            n = 1 if mode <= 0 else 2 * mode + 1
            starts += [0] * n
            sizes += [0] * n
            flags += [mode == -1] if mode <= 0 else [k % 2 == 1 for k in range(n)]
            fixed += [-1] * n
            continue
        start, size, trained = where[item]
        starts.append(start)
        sizes.append(size)
        flags.append(trained > 0)
        fixed.append(trained)
        mixed = mixed or 0 < trained < size
    return key, starts, sizes, flags, fixed, mixed, positions, indices, partial


def _assemble(
    rows: list[Row | None],
    key: tuple[bool, int],
    snapshot: tuple[dict[Piece, tuple[int, int, int]], np.ndarray, np.ndarray],
    encoded: list[_Words],
    word_base: tuple[list[int], list[int]],
    n_words: list[int],
) -> Assembled:
    """Pass 2: each row as chunks of the token table [shared | call 0 | call 1]; partly
    trained words cut by their token offsets on the way; the other word chunks filled
    for all rows at once; then one gather for the whole batch."""
    where, shared_ids, shared_mask = snapshot
    table_base = [len(shared_ids), len(shared_ids) + len(encoded[0].ids)]
    firsts = (encoded[0].first.tolist(), encoded[1].first.tolist())
    lengths = (encoded[0].length.tolist(), encoded[1].length.tolist())
    starts: list[int] = []
    sizes: list[int] = []
    flags: list[bool] = []
    fixed: list[int] = []
    word_chunks: tuple[list[int], list[int]] = ([], [])
    word_index: tuple[list[int], list[int]] = ([], [])
    row_chunk: list[int] = []
    mixed = False
    for r, row in enumerate(rows):
        if row is None:
            continue
        program = row.program
        chunks = program.chunks
        if chunks is None or chunks[0] != key:
            chunks = program.chunks = _layout(program, where, key)
        base = len(starts)
        row_chunk.append(base)
        starts += chunks[1]
        sizes += chunks[2]
        flags += chunks[3]
        fixed += chunks[4]
        mixed = mixed or chunks[5]
        positions, indices = chunks[6], chunks[7]
        for c in (0, 1) if key[0] else (0,):
            if positions[c]:
                word_chunks[c].extend([base + p for p in positions[c]])
                first_word = word_base[c][r]
                word_index[c].extend([first_word + i for i in indices[c]])
        if not chunks[8]:
            continue
        guesses, heads, explicit = program.guesses, program.heads, iter(row.ranges)
        for item, pos, c, index, j in chunks[8]:
            g = word_base[c][r] + index
            first, n = firsts[c][g], lengths[c][g]
            enc, local = encoded[c].locate(g, first)
            origin = table_base[c] + first - local  # table index of the encoding's token 0
            stop, at = local + n, base + pos
            head = heads[item]
            if head >= 0:  # the common case: [untrained head | trained to the end]
                to_chars = enc.token_to_chars
                lo = _first_past(to_chars, local, stop, head, local + guesses[j])
                guesses[j] = lo - local
                hi = _first_at(to_chars, lo, stop, len(row.words[item]))
                starts[at : at + 3] = (origin + local, origin + lo, origin + hi)
                sizes[at : at + 3] = (lo - local, hi - lo, stop - hi)
                continue
            done = local
            for lo, hi in _token_runs(enc, local, stop, next(explicit)):
                starts[at : at + 2] = (origin + done, origin + lo)
                sizes[at : at + 2] = (lo - done, hi - lo)
                at += 2
                done = hi
            starts[at] = origin + done
            sizes[at] = stop - done
    start_arr = np.array(starts, np.int64)
    size_arr = np.array(sizes, np.int64)
    for c in (0, 1):
        if word_chunks[c]:
            chunk_at = np.array(word_chunks[c], np.int64)
            word_at = np.array(word_index[c], np.int64)
            start_arr[chunk_at] = table_base[c] + encoded[c].first[word_at]
            size_arr[chunk_at] = encoded[c].length[word_at]
    ends = np.cumsum(size_arr)
    total = int(ends[-1]) if len(ends) else 0
    table = np.concatenate([shared_ids, encoded[0].ids, encoded[1].ids])
    small = np.int32 if max(total, len(table)) < 2**31 else np.int64  # half the traffic
    offset = (start_arr - (ends - size_arr)).astype(small)
    index = np.repeat(offset, size_arr) + np.arange(total, dtype=small)
    ids = table[index]
    flag_arr = np.array(flags, bool)
    mask = np.repeat(flag_arr, size_arr)
    if mixed:  # a shared piece trained in part: its own mask decides
        rest = np.ones(len(table) - len(shared_mask), bool)
        mask &= np.concatenate([shared_mask, rest])[index]
    labels = np.where(mask, ids, np.int32(IGNORE_INDEX)).astype(np.int32, copy=False)
    # Row bounds and trained counts from chunk-level prefix sums.
    fixed_arr = np.array(fixed, np.int64)
    chunk_trained = np.where(fixed_arr >= 0, fixed_arr, flag_arr * size_arr)
    at_rows = [*row_chunk, len(starts)]
    token_at = np.concatenate([[0], ends])[at_rows]
    trained_at = np.concatenate([[0], np.cumsum(chunk_trained)])[at_rows]
    bounds: list[tuple[int, int] | None] = [None] * len(rows)
    trained = [0] * len(rows)
    lo_list, tlo = token_at.tolist(), (trained_at[1:] - trained_at[:-1]).tolist()
    k = 0
    for r, row in enumerate(rows):
        if row is not None:
            bounds[r] = (lo_list[k], lo_list[k + 1])
            trained[r] = tlo[k]
            k += 1
    return Assembled(ids, labels, bounds, trained)


def finish(
    batch: Mapping[str, list[Any]],
    tokens: Assembled,
    reasons: list[str | None],
    errors: dict[int, RowError],
    *,
    max_length: int | None,
    truncation: str,
    report_cut: bool,
) -> Batch:
    """Apply the length limit and cut the batch's arrays into rows (numpy views); a
    rejected row keeps its place with empty arrays."""
    ids, labels, bounds, trained = tokens
    ones = np.ones(len(ids), np.int8)
    empty32, empty8 = np.zeros(0, np.int32), np.zeros(0, np.int8)
    out_ids: list[np.ndarray] = []
    out_labels: list[np.ndarray] = []
    out_mask: list[np.ndarray] = []
    cuts: list[int] = []
    for i, bound in enumerate(bounds):
        if bound is not None and reasons[i] is None:
            a, b = bound
            try:
                b, cut = _limit(a, b, labels, trained[i], max_length, truncation)
            except RowError as e:
                reasons[i], errors[i] = e.reason, e
            else:
                out_ids.append(ids[a:b])
                out_labels.append(labels[a:b])
                out_mask.append(ones[a:b])
                cuts.append(cut)
                continue
        out_ids.append(empty32)
        out_labels.append(empty32)
        out_mask.append(empty8)
        cuts.append(0)
    out: Batch = {
        **batch,
        "input_ids": out_ids,
        "labels": out_labels,
        "attention_mask": out_mask,
        DROP_REASON: reasons,
    }
    if report_cut:
        out["truncated"] = cuts
    return out


def _limit(
    a: int, b: int, labels: np.ndarray, trained: int, max_length: int | None, truncation: str
) -> tuple[int, int]:
    """The row's end after the length limit and how many tokens were cut; RowError if
    it is too long (``drop``) or keeps no trained token."""
    n = b - a
    if max_length is not None and n > max_length:
        if truncation == "raise":
            raise SftDataError(
                f"encoded row has {n} tokens > max_length {max_length} (truncation='raise')"
            )
        if truncation == "drop":
            raise RowError("encode.too_long", f"{n} tokens > max_length {max_length}")
        if not (labels[a : a + max_length] != IGNORE_INDEX).any():
            raise RowError(
                "encode.no_trained_tokens",
                f"truncating {n} to {max_length} tokens leaves no label",
            )
        return a + max_length, n - max_length
    if trained == 0:
        raise RowError("encode.no_trained_tokens", "no token carries loss")
    return b, 0


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for one batch, then restore its state.

    A batch allocates many small acyclic objects (segments, id lists) that reference
    counting frees anyway; letting the collector rescan them costs ~20% of the step.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def encoded_features(input_features: Mapping[str, Any] | None, *, truncated: bool) -> Any:
    import datasets

    del input_features  # carried columns are not rewritten
    out: dict[str, Any] = {}
    out["input_ids"] = datasets.List(datasets.Value("int32"))
    out["labels"] = datasets.List(datasets.Value("int32"))
    out["attention_mask"] = datasets.List(datasets.Value("int8"))
    out[DROP_REASON] = datasets.Value("string")
    if truncated:
        out["truncated"] = datasets.Value("int64")
    return datasets.Features(out)


def single_row(out: Batch, errors: dict[int, RowError]) -> dict[str, np.ndarray]:
    if 0 in errors:
        raise errors[0]
    keys = [*ENCODED, *(["truncated"] if "truncated" in out else [])]
    return {k: out[k][0] for k in keys}


def control_tokens(template: Any) -> list[str]:
    """The control tokens a template may emit, as far as its fields tell."""
    names = ("bos", "eos", "bos_token", "eos_token")
    tokens = {getattr(template, n, "") for n in names} | set(
        getattr(template, "control_tokens", ())
    )
    return sorted(t for t in tokens if isinstance(t, str) and t)


def check_max_length(value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SftDataError(f"max_length must be a positive int, got {value!r}")


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SftDataError(f"{name} must be one of {allowed}, got {value!r}")


def check_tokenizer(tokenizer: Any) -> None:
    if not callable(tokenizer) or not hasattr(tokenizer, "convert_tokens_to_ids"):
        raise SftDataError(f"expected a transformers tokenizer, got {type(tokenizer).__name__}")
    if not getattr(tokenizer, "is_fast", False):
        raise SftDataError(
            f"{type(tokenizer).__name__} cannot return character offsets; load the tokenizers-"
            "backed (fast) tokenizer of the model, e.g. AutoTokenizer.from_pretrained(path)"
        )
