"""`bigarts detect` throughput: videos per minute on 10-second 720p clips (1280×720, 30 fps, 300 frames, H.264).

Clips: real/fake pairs from the synthetic stand-in generator (`bigarts.synth.make_pair`, rendered at 640×360),
up-scaled to 720p and encoded with `bigarts.video.write_video`. Each is scored as `bigarts detect` does
(1 frame in `--every`, MTCNN tracking, ×1.3 crop, the network). Two networks:
  * `demo`: the demo model `models/both/checkpoint_best.safetensors` (trained at 64², as `make demo` does); where it does
    not exist, a BiG-Arts at 64² with random weights (speed does not depend on the weights);
  * `paper`: a BiG-Arts at the paper's 256² input (random weights).
Figures per network: loading (checkpoint + MTCNN), then warm scoring of every clip — per-stage milliseconds per
video (decode, face detection, crop, network) and videos/min — and the whole CLI call (`main`, loading included).
Also the network alone per face at 256²: the whole network vs the encoder + classifier that scoring runs.
Prints the figures; asserts nothing about time.

    python benchmarks/detect.py [--videos 4] [--every 10] [--device cpu|cuda] [--threads 1] [--seconds 10]
                                [--keep-clips DIR | --clips DIR]
"""
from __future__ import annotations
import argparse, os, tempfile, time
from pathlib import Path

import cv2
import numpy as np
import torch

from bigarts.detect import DEFAULT_CHECKPOINT, Detector, main as detect_main
from bigarts.model import BiGArts, cls_logits
from bigarts.checkpoint import save_model_file
from bigarts.train import TrainConfig
from bigarts.video import write_video


def make_clips(out: Path, n: int, frames: int, fps: int = 30) -> list[Path]:
    "`n` 720p clips (real/fake pairs of different identities) of `frames` frames at `fps`."
    from bigarts import synth
    bases, size = synth.base_faces(), synth.Size(frames=frames, test_frames=frames, width=640, height=360, train_identities=3, val_identities=1, test_identities=2, clips=1)
    paths = []
    for k in range((n + 1) // 2):
        pair = synth.make_pair(synth.get_mix("celebdf"), size, 0, f"clip{k}", bases[k % len(bases)], bases[(k + 1) % len(bases)])
        for kind in ("real", "fake")[: n - len(paths)]:
            p = out/f"{kind}{k}_720p.mp4"
            write_video(p, (cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR) for f in pair[kind]), fps=fps, crf=23)
            paths.append(p)
    return paths


def random_checkpoint(path: Path, size: int) -> Path:
    "A model file of a BiG-Arts at `size`² with random weights, written as the trainer writes one."
    save_model_file(path, BiGArts(), TrainConfig(size=size), {"step": 0, "val_auc": float("nan"), "best_auc": float("nan"),
                                                             "best_step": None, "loss": float("nan")})
    return path


def bench(name: str, ckpt: Path, clips: list[Path], every: int, device: str | None, threads: int):
    t = time.perf_counter(); det = Detector(ckpt, device, every, threads=threads or None); t_load = time.perf_counter() - t
    det(clips[0]); det.timings.clear()                                   # warm-up: first-call allocations
    t = time.perf_counter(); res = [det(c) for c in clips]; dt = time.perf_counter() - t
    assert all(r.scored for r in res), [r.problem for r in res]
    per = {k: 1000 * v / len(clips) for k, v in det.timings.items()}
    faces = np.mean([r.frames_scored for r in res]); sampled = np.mean([r.frames_sampled for r in res])
    print(f"[{name}] {ckpt} — input {det.size}², device {det.device}, "
          f"{(threads or torch.get_num_threads()) if det.device.type == 'cpu' else torch.cuda.get_device_name(det.device)}"
          + (" torch thread(s)" if det.device.type == "cpu" else ""))
    print(f"  load (checkpoint + MTCNN): {t_load:.1f} s")
    print(f"  warm: {len(clips)} videos in {dt:.2f} s = {60 * len(clips) / dt:.1f} videos/min "
          f"({1000 * dt / len(clips):.0f} ms/video; {sampled:.0f} frames sampled, {faces:.0f} faces scored per video)")
    print("  per video: " + ", ".join(f"{k} {v:.0f} ms" for k, v in per.items()) + f", other {1000 * dt / len(clips) - sum(per.values()):.0f} ms")
    t = time.perf_counter()
    code = detect_main([*map(str, clips), "--checkpoint", str(ckpt), "--every", str(every), "--threads", str(threads), "--quiet"]
                       + (["--device", device] if device else []))
    dt = time.perf_counter() - t
    print(f"  CLI (bigarts detect, loading included): {len(clips)} videos in {dt:.2f} s = {60 * len(clips) / dt:.1f} videos/min, exit {code}")


def network_only(device: str | None, threads: int, n: int = 30):
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cpu" and threads: torch.set_num_threads(threads)
    m, x = BiGArts().eval().to(dev), torch.rand(n, 3, 256, 256, device=dev)
    for label, fn in (("whole network (cls + M_in + M_ex)", lambda: m(x)), ("encoder + classifier (scoring)", lambda: cls_logits(m, x))):
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            fn()
            if dev.type == "cuda": torch.cuda.synchronize()
            t = time.perf_counter(); fn()
            if dev.type == "cuda": torch.cuda.synchronize()
        print(f"  network alone at 256², batch {n}, {dev}: {label}: {1000 * (time.perf_counter() - t) / n:.1f} ms/face")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (0: torch's default), as `bigarts detect --threads`")
    ap.add_argument("--skip-paper", action="store_true", help="only the demo model")
    ap.add_argument("--clips", default=None, help="score the *_720p.mp4 clips of this folder instead of generating them")
    ap.add_argument("--keep-clips", default=None, help="generate the clips into this folder (to reuse with --clips)")
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp())
    t = time.perf_counter()
    if a.clips: clips = sorted(Path(a.clips).glob("*_720p.mp4"))[: a.videos]
    else: clips = make_clips(Path(a.keep_clips or d), a.videos, int(round(30 * a.seconds)))
    cap = cv2.VideoCapture(str(clips[0]))
    print(f"generated {len(clips)} clips of {int(cap.get(cv2.CAP_PROP_FRAME_COUNT))} frames, "
          f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}×{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))} at {cap.get(cv2.CAP_PROP_FPS):.0f} fps "
          f"in {time.perf_counter() - t:.1f} s ({os.cpu_count()} CPUs)"); cap.release()
    demo = DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else random_checkpoint(d/"demo64.safetensors", 64)
    bench("demo" if demo == DEFAULT_CHECKPOINT else "demo size, random weights", demo, clips, a.every, a.device, a.threads)
    if not a.skip_paper:
        bench("paper", random_checkpoint(d/"paper.safetensors", 256), clips, a.every, a.device, a.threads)
        network_only(a.device, a.threads)


if __name__ == "__main__":
    main()
