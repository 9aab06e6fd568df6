"""A Merkle tree over the audit records' hashes, as RFC 9162 (Certificate Transparency 2.0)
builds one (``security.controls``).

Leaves are the records' SHA-256 hashes (32 bytes each, in ``seq`` order). A leaf hashes as
``SHA-256(0x00 || leaf)`` and an inner node as ``SHA-256(0x01 || left || right)``; a tree of
``n`` leaves splits at ``k``, the largest power of two smaller than ``n``. Inclusion proofs
show one record is in a signed tree; consistency proofs show a larger tree extends a smaller
one unchanged. Pure: the standard library only, so an offline verifier can use it alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root(hashes: Sequence[bytes]) -> bytes:
    """The root over already leaf-hashed entries."""
    n = len(hashes)
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(_root(hashes[:k]), _root(hashes[k:]))


def root(leaves: Sequence[bytes], n: int | None = None) -> bytes:
    """MTH of the first ``n`` leaves (all of them by default)."""
    n = len(leaves) if n is None else n
    if not 0 <= n <= len(leaves):
        raise ValueError(f"a tree of {n} leaves needs {n} leaves, {len(leaves)} given")
    if n == 0:
        return EMPTY_ROOT
    return _root([leaf_hash(x) for x in leaves[:n]])


def _path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, hashes[:k]), _root(hashes[k:])]
    return [*_path(m - k, hashes[k:]), _root(hashes[:k])]


def inclusion_proof(leaves: Sequence[bytes], index: int, n: int | None = None) -> list[bytes]:
    """PATH(index, D[0:n]): the audit path of leaf ``index`` (0-based) in the tree of size n."""
    n = len(leaves) if n is None else n
    if not 0 <= index < n <= len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {n} leaves")
    return _path(index, [leaf_hash(x) for x in leaves[:n]])


def _subproof(m: int, hashes: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [_root(hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, hashes[:k], complete), _root(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), _root(hashes[:k])]


def consistency_proof(leaves: Sequence[bytes], m: int, n: int | None = None) -> list[bytes]:
    """PROOF(m, D[0:n]): shows the tree of the first ``m`` leaves is a prefix of size ``n``."""
    n = len(leaves) if n is None else n
    if not 0 <= m <= n <= len(leaves):
        raise ValueError(f"no consistency proof from {m} to {n} over {len(leaves)} leaves")
    if m == 0 or m == n:
        return []
    return _subproof(m, [leaf_hash(x) for x in leaves[:n]], True)


def verify_inclusion(leaf: bytes, index: int, n: int, proof: Sequence[bytes],
                     root_hash: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof`` put ``leaf`` at ``index`` under ``root_hash``?"""
    if not 0 <= index < n:
        return False
    fn, sn = index, n - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(m: int, n: int, proof: Sequence[bytes], first_root: bytes,
                       second_root: bytes) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree of size ``n`` an extension of the one of size
    ``m``, given both roots?"""
    if not 0 <= m <= n:
        return False
    if m == n:
        return not proof and first_root == second_root
    if m == 0:
        return not proof
    path = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: the first root is itself a node of the path
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root
