"""Preprocessing throughput: sampled frames per second, end to end (decode + MTCNN + crop + dlib + PNG write).

A 720p H.264 clip is generated (the astronaut's face moving, scaling and changing brightness over a textured,
drifting background, with sensor noise). Two figures:
  * warm, one process: `process_video` on `--videos` copies once MTCNN and dlib are loaded (the steady state of a
    long run; one torch thread);
  * cold, `preprocess()` with each `--workers` value: the whole call, process start-up and model loading included.
  * --detect-only: face detection alone (decode + MTCNN tracking, batched on CUDA), the figure for a machine
    without dlib (e.g. a lent GPU machine).
Prints the figures; asserts nothing about time.

    python benchmarks/preprocess.py [--frames 300] [--every 10] [--workers 1 2] [--device cpu] [--detect-only]
"""
from __future__ import annotations
import argparse, tempfile, time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import skimage.data

from bigarts.cache import FaceCache
from bigarts.preprocess import preprocess
from bigarts.video import write_video


def clip_720p(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    bg = cv2.resize(rng.integers(0, 255, (18, 32, 3), dtype=np.uint8), (1600, 900), interpolation=cv2.INTER_CUBIC)
    face = skimage.data.astronaut()[20:300, 100:360]
    for i in range(n):
        dx, dy = int(150 * np.sin(i / 40)), int(40 * np.cos(i / 30))
        f = bg[90 + dy // 2:810 + dy // 2, 160 + dx // 2:1440 + dx // 2].copy()
        s = 1.0 + 0.25 * np.sin(i / 50)
        fc = cv2.resize(face, None, fx=s, fy=s)
        y, x = 160 + dy, 480 + dx
        f[y:y + fc.shape[0], x:x + fc.shape[1]] = np.clip(fc * (0.85 + 0.15 * np.sin(i / 20)), 0, 255)
        yield np.clip(f + rng.normal(0, 3, f.shape), 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--device", default=None)
    ap.add_argument("--detect-only", action="store_true", help="time decoding + MTCNN alone (no dlib, no cache)")
    ap.add_argument("--clip", default=None, help="use this 720p clip instead of generating one (--save-clip writes it)")
    ap.add_argument("--save-clip", default=None, help="write the generated clip here and stop")
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp())
    t = time.perf_counter()
    if a.clip: (d/"a.mp4").write_bytes(Path(a.clip).read_bytes())
    else: write_video(d/"a.mp4", clip_720p(a.frames), crf=23)
    if a.save_clip: Path(a.save_clip).write_bytes((d/"a.mp4").read_bytes()); return
    names = [f"v{i}" for i in range(a.videos)]
    for n in names: (d/f"{n}.mp4").write_bytes((d/"a.mp4").read_bytes())
    print(f"720p clip ({a.clip or f'generated, {a.frames} frames'}) ready in {time.perf_counter() - t:.1f} s")
    idx = pd.DataFrame(dict(video_id=[f"bench/{n}" for n in names], dataset="bench", split="test", label=0, source_id="", identity="x",
                            path=[str(d/f"{n}.mp4") for n in names]))
    import torch
    if a.detect_only: return detect_only(idx, a)
    from bigarts.faces import FaceDetector, Landmarker
    from bigarts.preprocess import process_video
    torch.set_num_threads(1)
    t = time.perf_counter(); det, lmk = FaceDetector(a.device), Landmarker(); t_load = time.perf_counter() - t
    c = FaceCache(d/"warm")
    t = time.perf_counter()
    for rec in idx.to_dict("records"): process_video(rec, c, det, lmk, every=a.every)
    dt = time.perf_counter() - t
    man = c.finalize()
    print(f"warm, one process ({det.device}): {len(man)} sampled frames in {dt:.2f} s = {len(man) / dt:.1f} sampled frames/s "
          f"({len(man) * a.every / dt:.0f} decoded frames/s); models loaded once in {t_load:.1f} s")
    for w in a.workers:
        out = d/f"cache{w}"
        t = time.perf_counter()
        man = preprocess(idx, out, every=a.every, workers=w, device=a.device, progress=False)
        dt = time.perf_counter() - t
        c = FaceCache(out)
        ok = man.status.eq("ok").sum()
        lm = sum(len(c.landmarks(v)) for v in man.video_id.unique())
        print(f"cold, workers={w} device={a.device or 'auto'}: {len(man)} sampled frames in {dt:.2f} s = {len(man) / dt:.1f} sampled frames/s "
              f"(every {a.every}: {len(man) * a.every / dt:.0f} decoded frames/s); face found {ok}/{len(man)}, landmarks kept {lm}/{ok}")


def detect_only(idx: pd.DataFrame, a):
    "Sampled frames/s of decoding + MTCNN tracking (batched on CUDA), once the detector is loaded and warmed up."
    from bigarts.faces import FaceDetector
    from bigarts.video import VideoReader
    det = FaceDetector(a.device)
    t = time.perf_counter()
    frames = [f for _, f in VideoReader(idx.path[0], every=a.every)]
    print(f"decoded {len(frames)} sampled frames (every {a.every}) in {time.perf_counter() - t:.2f} s")
    det.track(frames[:4])                                     # warm-up (CUDA context, cuDNN)
    for batch in ([False, True] if det.device.type == "cuda" else [False]):
        t = time.perf_counter()
        for _ in range(a.videos): found = det.track(frames, batch=batch)
        dt = time.perf_counter() - t
        n = a.videos * len(frames)
        print(f"detect only ({det.device}, {'batched' if batch else 'one frame at a time'}): {n} sampled 720p frames in {dt:.2f} s "
              f"= {n / dt:.1f} sampled frames/s; face found in {sum(b is not None for b, _ in found)}/{len(frames)}")


if __name__ == "__main__":
    main()
