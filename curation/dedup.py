"""Deduplication: exact (normalised program + input) and near-duplicate programs (MinHash LSH).

Exact: rows whose programs normalise to the same AST dump (normalize.py: own names renamed,
docstrings, comments, annotations and layout gone) and whose inputs are equal are one row; the
one with the smallest sort key is kept.

Near: programs are sets of token 5-grams of their normalised text, summarised by MinHash
(datasketch, fixed seed) and bucketed by LSH at a configurable Jaccard threshold; candidate
pairs are confirmed with the MinHash estimate and joined into clusters (union-find). Each
cluster keeps the program whose best row has the smallest sort key; every row of the other
programs in the cluster is a near duplicate. The result depends only on the set of rows, never
on their order.

    >>> keys = {"a": ("1",), "b": ("2",), "c": ("3",)}
    >>> sigs = {k: minhash_of(code) for k, code in [("a", "def f(xs):\\n    return sorted(set(xs))[::-1]"),
    ...     ("b", "def g(items):\\n    return sorted(set(items))[::-1]"), ("c", "def h(n):\\n    return n * (n + 1) // 2")]}
    >>> near_duplicate_programs(sigs, keys, threshold=0.8)
    {'b': ('a', 1.0)}
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from .normalize import canonical_tokens

SHINGLE = 5
NUM_PERM = 128
SEED = 1
SCHEME = "affine32"  # datasketch >= 2: pinned, so signatures stored by one call compare with the next
DEFAULT_NEAR_THRESHOLD = 0.9
LSH_MAX_THRESHOLD = 0.95


def shingles(code: str, k: int = SHINGLE) -> set[bytes]:
    toks = canonical_tokens(code)
    if len(toks) <= k:
        return {" ".join(toks).encode("utf-8", "surrogatepass")}
    return {" ".join(toks[i:i + k]).encode("utf-8", "surrogatepass") for i in range(len(toks) - k + 1)}


def minhash_of(code: str, num_perm: int = NUM_PERM) -> Any:
    from datasketch import MinHash

    mh = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME)
    mh.update_batch(sorted(shingles(code)))
    return mh


def minhash_from_values(values: Iterable[int], num_perm: int = NUM_PERM) -> Any:
    import numpy as np
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME, hashvalues=np.asarray(list(values), dtype=np.uint64))


def exact_duplicates(rows: Iterable[tuple[tuple, str, Hashable]]) -> dict[Hashable, Hashable]:
    """rows: (sort key, dedup key, row id). Returns {row id: the row id kept in its place} for
    every row that is not the first (by sort key) of its dedup key.

    >>> exact_duplicates([(("b",), "k", 2), (("a",), "k", 1), (("c",), "j", 3)])
    {2: 1}
    """
    best: dict[str, tuple[tuple, Hashable]] = {}
    all_rows = list(rows)
    for sort_key, key, rid in all_rows:
        if key not in best or sort_key < best[key][0]:
            best[key] = (sort_key, rid)
    return {rid: best[key][1] for sort_key, key, rid in all_rows if best[key][1] != rid}


def near_duplicate_programs(signatures: dict[str, Any], sort_keys: dict[str, tuple],
                            threshold: float = DEFAULT_NEAR_THRESHOLD, num_perm: int = NUM_PERM) -> dict[str, tuple[str, float]]:
    """signatures: {program key: MinHash}; sort_keys: {program key: its best row's sort key}.
    Returns {program key: (kept program key, estimated Jaccard)} for every program that is not
    the representative of its cluster."""
    from datasketch import MinHashLSH

    keys = sorted(signatures, key=lambda k: (sort_keys[k], k))
    if len(keys) < 2:
        return {}
    # LSH only proposes candidates (confirmed below with the estimate); above ~0.95 it cannot
    # make two bands of 128 permutations, so it proposes at 0.95 then
    lsh = MinHashLSH(threshold=min(threshold, LSH_MAX_THRESHOLD), num_perm=num_perm)
    for k in keys:
        lsh.insert(k, signatures[k])
    parent = {k: k for k in keys}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    rank = {k: i for i, k in enumerate(keys)}
    sim: dict[tuple[str, str], float] = {}
    for k in keys:
        for other in sorted(lsh.query(signatures[k])):
            if other == k:
                continue
            j = signatures[k].jaccard(signatures[other])
            if j < threshold:
                continue
            sim[(k, other)] = j
            a, b = find(k), find(other)
            if a != b:  # the root is always the member with the smallest sort key
                if rank[a] < rank[b]:
                    parent[b] = a
                else:
                    parent[a] = b
    out = {}
    for k in keys:
        root = find(k)
        if root != k:
            out[k] = (root, round(sim.get((k, root), sim.get((root, k), signatures[k].jaccard(signatures[root]))), 4))
    return out
