"""Deduplication: exact, MinHash near-duplicates, decontamination against eval sets.

Global passes take a ``datasets.Dataset`` (or a list of rows / texts) and return
``(kept, rejected)`` of the same kind; rejected rows carry ``drop_reason`` and the id
of the row they duplicate::

    kept, rejected = sd.dedup.exact_dedup(ds)                       # dedup.exact
    kept, rejected = sd.dedup.minhash_dedup(kept, threshold=0.8)    # dedup.near
    kept, rejected = sd.dedup.decontaminate(kept, {"gsm8k": evals}) # dedup.contaminated:gsm8k

The near-dedup pieces are also exposed one by one for other engines (Ray): the map
step :class:`MinHashSignatures`, then :func:`band_keys`, :func:`candidate_pairs`,
:func:`verify_pairs`, :func:`connected_components` (or all four as
:func:`near_duplicate_roots`), the drop map :class:`MarkDuplicates`, and a
:class:`MinHashIndex` saved as NumPy/Arrow. A Ray engine runs::

    ds = ds.map_batches(MinHashSignatures(...))          # map, any partitioning
    sig = <gather the minhash column in row order>       # (n, num_perm) uint32
    roots = near_duplicate_roots(sig, threshold=0.8)     # one global pass, O(n) memory
    ds = ds.map_batches(MarkDuplicates.from_roots(roots))  # map, needs a row_index column

An engine that clusters by itself hands its roots back with :func:`apply_near_roots`
(or :func:`apply_exact_roots`), which write the same columns as the local passes and
split the rows; :func:`resolve_column` and :func:`resolve_bands` give it the local
defaults for the ``column`` and ``bands``/``rows`` options.
"""

from sftdata.dedup._apply import DUP_CLUSTER, DUP_OF, resolve_column
from sftdata.dedup._decontam import CONTAMINATION, Decontaminate, EvalNgrams, decontaminate
from sftdata.dedup._exact import EXACT_KEY, ExactKeys, apply_exact_roots, exact_dedup
from sftdata.dedup._hashing import (
    NgramHashes,
    ngram_hashes,
    ngram_hashes_multi,
    shingle_hash,
    shingle_hash64,
)
from sftdata.dedup._index import MinHashIndex
from sftdata.dedup._lsh import (
    band_key,
    band_keys,
    candidate_pairs,
    candidate_probability,
    connected_components,
    estimated_jaccard,
    match_rows,
    optimal_bands,
    query_pairs,
    star_edges,
    unique_pairs,
    verify_pairs,
)
from sftdata.dedup._minhash import (
    SIGNATURE_COLUMN,
    MinHashSignatures,
    minhash_signatures,
    permutations,
    signatures_of,
)
from sftdata.dedup._near import (
    MarkDuplicates,
    apply_near_roots,
    minhash_dedup,
    near_duplicate_roots,
    resolve_bands,
)
from sftdata.dedup._text import normalize_text, shingles, words

__all__ = [
    "CONTAMINATION",
    "DUP_CLUSTER",
    "DUP_OF",
    "EXACT_KEY",
    "SIGNATURE_COLUMN",
    "Decontaminate",
    "EvalNgrams",
    "ExactKeys",
    "MarkDuplicates",
    "MinHashIndex",
    "MinHashSignatures",
    "NgramHashes",
    "apply_exact_roots",
    "apply_near_roots",
    "band_key",
    "band_keys",
    "candidate_pairs",
    "candidate_probability",
    "connected_components",
    "decontaminate",
    "estimated_jaccard",
    "exact_dedup",
    "match_rows",
    "minhash_dedup",
    "minhash_signatures",
    "near_duplicate_roots",
    "ngram_hashes",
    "ngram_hashes_multi",
    "normalize_text",
    "optimal_bands",
    "permutations",
    "query_pairs",
    "resolve_bands",
    "resolve_column",
    "shingle_hash",
    "shingle_hash64",
    "shingles",
    "signatures_of",
    "star_edges",
    "unique_pairs",
    "verify_pairs",
    "words",
]
