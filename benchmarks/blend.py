"""Benchmark of the forgery-face augmentation (Sec. 3.3): ms per training sample of each kind, one core, 256².

Run: `.venv/bin/python benchmarks/blend.py [--n 300]`. Prints figures; asserts nothing about time.

Three figures per kind:
  in-memory, warm  decoded crops held in memory, intrinsic hulls of fakes already memoised (every epoch after
                   the first visit of a fake frame): partner lookup, distortion T, blend, M_in, M_ex, JPEG, tensors
  in-memory, cold  the same, with the intrinsic mask mined afresh from |x' − x| for every fake sample
  from cache       `ForgeryDataset[i]` end to end, PNG decoding of every crop included (warm memo)
and the cost of one partner query against a paper-sized index (30,000 real frames, 600 identities).
"""
from __future__ import annotations
import argparse, os, sys, tempfile, time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bigarts.blend import PartnerIndex
from bigarts.toy import toy_cache
from bigarts.toy import _pose
from bigarts.masks import landmark_template
from bigarts.trainset import KINDS, ForgeryDataset


def per_sample(fn, n: int) -> str:
    "'median (mean)' ms of `fn(i)` over i < n, 3 rounds: the median resists other jobs on a shared machine, the mean does not."
    fn(0); t = []
    for _ in range(3):
        for i in range(n):
            t0 = time.perf_counter(); fn(i); t.append(time.perf_counter() - t0)
    t = np.array(t)*1e3
    return f"{np.median(t):.2f} ({t.mean():.2f})"


class InMemory(ForgeryDataset):
    "ForgeryDataset whose crops are decoded once up front (isolates the augmentation from PNG decoding)."
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._pix = {}
    def _img(self, r):
        if r not in self._pix: self._pix[r] = super()._img(r)
        return self._pix[r]


def bench_kinds(cache, n: int):
    mem, disk = InMemory(cache, seed=0), ForgeryDataset(cache, seed=0)
    for i in range(len(mem.vid)): mem._img(i)
    print(f"face cache: {len(mem.reals)} real + {len(mem.fakes)} fake frames, partner index: {mem.index}")
    print(f"ms/sample, median (mean), 1 core, 256², JPEG 75-100; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'kind':<12}{'in-memory, warm':>18}{'in-memory, cold':>18}{'from cache':>18}")
    for k in range(4):
        def one(ds, cold=False):
            def f(i):
                if cold: ds._hulls.clear()
                rng = np.random.default_rng([1, k, i])
                return ds._finish(*ds._make(k, rng)[:3], rng)
            return f
        for r in mem.fakes: mem._m_in(r, mem._img(r)); disk._m_in(r, disk._img(r))
        warm, png = per_sample(one(mem), n), per_sample(one(disk), n)
        cold = per_sample(one(mem, cold=True), n) if k in (1, 3) else "-"
        print(f"{KINDS[k]:<12}{warm:>18}{cold:>18}{png:>18}")


def bench_index(n_ids: int = 600, per_id: int = 50, n: int = 2000):
    g = np.random.default_rng(0); t = landmark_template()
    lms, ids = [], []
    for i in range(n_ids):
        shape = t*[1 + g.uniform(-0.08, 0.08), 1 + g.uniform(-0.06, 0.06)] + g.normal(0, 0.004, t.shape)
        for f in range(per_id):
            lms.append(_pose(shape + g.normal(0, 0.002, t.shape), 256, g.normal(0, 0.04, 2), 1 + g.normal(0, 0.05), g.normal(0, 8)))
            ids.append(f"id{i}")
    lms = np.asarray(lms, np.float32)
    t0 = time.perf_counter(); idx = PartnerIndex(lms, ids, ids); build = time.perf_counter() - t0
    q = g.integers(len(lms), size=n)
    ms = per_sample(lambda i: idx.query(lms[q[i]], [ids[q[i]]], [ids[q[i]]]), n)
    print(f"partner index over {len(lms):,} frames / {n_ids} identities: built in {build:.2f} s ({idx}); query {ms} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="samples per kind and round")
    args = ap.parse_args()
    torch.set_num_threads(1); cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        cache = toy_cache(d, identities=16, videos=2, frames=8)
        print(f"constructed cache written in {time.perf_counter() - t0:.1f} s")
        bench_kinds(cache, args.n)
    bench_index()
