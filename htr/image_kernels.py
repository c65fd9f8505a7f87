"""Compiled pixel loops of :func:`htr.image.normalize_ink` (numba), each giving exactly what the
NumPy it replaced gave: the paper divided out, the order statistics behind its percentiles, and
the contrast stretch.

NumPy made each of those a pass or more over the page in memory (a float64 copy for the stretch,
a partial sort for each pair of percentiles); here each is one or two plain loops, run without
Python's lock, so that the line crops of a page are normalised on several threads at once.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def divide_paper(grey, paper):
    """``grey / np.maximum(paper, 1.0)`` of two float32 images, in float32."""
    out = np.empty_like(grey)
    h, w = grey.shape
    one = np.float32(1.0)
    for y in range(h):
        for x in range(w):
            out[y, x] = grey[y, x] / max(paper[y, x], one)
    return out


@njit(cache=True, nogil=True)
def _key(bits):
    """A float32's bits (as uint32) turned so that their unsigned order is the floats' order."""
    return ~bits if bits >> np.uint32(31) else bits | np.uint32(0x80000000)


@njit(cache=True, nogil=True)
def order_statistics(image, ranks):
    """The values of a float32 image (no NaN) at the given 0-based ``ranks`` of its sorted
    pixels, exactly, by a radix selection on the values' bits (two counting passes, one more
    for each further top bin asked for) instead of a partial sort."""
    bits = np.ascontiguousarray(image).ravel().view(np.uint32)
    top = np.zeros(65536, np.int64)
    for u in bits:
        top[_key(u) >> np.uint32(16)] += 1
    keys = np.empty(len(ranks), np.uint32)
    low = np.zeros(65536, np.int64)
    done_bin, below_bin = -1, 0
    for r in range(len(ranks)):
        k = ranks[r]
        # The top 16 bits: the bin where the running count passes k.
        seen, b = 0, 0
        while seen + top[b] <= k:
            seen += top[b]
            b += 1
        if b != done_bin:  # the low 16 bits of that bin's values, counted
            low[:] = 0
            for u in bits:
                key = _key(u)
                if key >> np.uint32(16) == b:
                    low[key & np.uint32(0xFFFF)] += 1
            done_bin, below_bin = b, seen
        rest, lo_bits = k - below_bin, 0
        while rest >= low[lo_bits]:
            rest -= low[lo_bits]
            lo_bits += 1
        key = (np.uint32(b) << np.uint32(16)) | np.uint32(lo_bits)
        keys[r] = key & np.uint32(0x7FFFFFFF) if key >> np.uint32(31) else ~key
    return keys.view(np.float32)


@njit(cache=True, nogil=True)
def stretch(flat, lo, hi):
    """``np.clip((flat - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)`` of a float32 image
    and float64 bounds, in float64 as NumPy computes it."""
    out = np.empty(flat.shape, np.uint8)
    h, w = flat.shape
    span = hi - lo
    for y in range(h):
        for x in range(w):
            v = (np.float64(flat[y, x]) - lo) / span * 255.0
            out[y, x] = np.uint8(min(max(v, 0.0), 255.0))
    return out
