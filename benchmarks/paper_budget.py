"""How long `dvc repro` with `profile: paper` takes on this machine: the measured throughput of every training run,
of preprocessing and of scoring, projected onto the paper's data (Sec. 4.1) and schedule.

    python benchmarks/paper_budget.py                          # every run of the paper profile
    python benchmarks/paper_budget.py --runs both,gsrm --json budget.json

What it measures (no dataset needed):
  preprocess  sampled frames/s of `bigarts.preprocess.preprocess` (decode, MTCNN — batched on CUDA —, crop, dlib,
              write) on generated 720p clips, 1 frame in 10, model loading included;
  train       per run of `runs` (params.yaml, profile paper) with that run's own settings (method, variant,
              augmentation, size, batch, and the bf16 / channels-last / torch.compile flags the trainer resolves on
              this device): img/s of the training step alone (random tensors, "model only") and end to end (the run's
              ForgeryDataset — blends, masks, JPEG — read from a face cache of the synthetic corpus through the
              trainer's loader);
  score       per run, img/s of the evaluation's forward pass (eval mode, no grad, evaluate's batch size).
Then each stage's projected hours on the paper's data, the total, and the wall time on 1, 2, 4 and 8 GPUs with the
stages scheduled over the pipeline's graph as `bigarts repro` schedules them (bigarts.scheduler.makespan).
Video lengths are not in the paper: every video is taken to have --frames-per-video frames (an assumption the output
repeats). On a CPU the same runs small
(--size 64, --batch 8, few steps) and every figure is labelled a CPU one. Prints its figures; asserts nothing.
"""
from __future__ import annotations
import argparse, dataclasses, json, math, sys, tempfile, time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))

# Sec. 4.1: videos per split of each dataset as the paper prints them. FF++'s counts are pairs (one original, one
# Deepfakes video each); DF-TIMIT's reals come from VidTIMIT and are read once per quality subset.
PAPER_VIDEOS = {
    "Celeb-DF": {"train": 4871, "val": 1140, "test": 518},
    "FF++": {"train": 2 * 740, "val": 2 * 140, "test": 2 * 140},
    "DFD": {"test": 3068 + 363}, "DFDC-P": {"test": 4113 + 1131}, "UADFV": {"test": 49 + 49},
    "DF-TIMIT-LQ": {"test": 320 + 320}, "DF-TIMIT-HQ": {"test": 320 + 320},
    "WildDeepFake": {"test": 806},
}
TEST_SETS = list(PAPER_VIDEOS)


def frames(videos: int, frames_per_video: int, every: int) -> int:
    "Sampled frames of `videos` videos of `frames_per_video` frames, 1 in `every`."
    return videos * math.ceil(frames_per_video / every)


def project(rates: dict, runs: dict, sec5: dict, frames_per_video: int = 300, every: int = 10) -> pd.DataFrame:
    """Hours of each stage of the paper profile → DataFrame(stage, work, unit, hours).

    rates: {"preprocess": sampled frames/s, "train": {run: img/s}, "score": {run: img/s}};
    runs:  {run: {"images": training images, "validations": count, "train_on": paper dataset}};
    sec5:  {"robustness_levels": n, "crfs": n, "partial_runs": [run, ...], "regions": n}.
    A missing or non-positive rate makes its stage's hours NaN."""
    f = lambda n: frames(n, frames_per_video, every)
    h = lambda work, rate: work / rate / 3600 if rate and rate > 0 else float("nan")
    rows = []
    add = lambda stage, work, unit, hours: rows.append(dict(stage=stage, work=work, unit=unit, hours=hours))
    pre = sum(f(n) for v in PAPER_VIDEOS.values() for n in v.values())
    add("preprocess", pre, "frames", h(pre, rates.get("preprocess")))
    for run, r in runs.items():   # training, plus its validations (the val split of its training set, scored)
        val = r["validations"] * f(PAPER_VIDEOS[r["train_on"]]["val"])
        add(f"train@{run}", r["images"], "images", h(r["images"], rates["train"].get(run)) + h(val, rates["score"].get(run)))
    test = sum(f(v["test"]) for v in PAPER_VIDEOS.values())
    add("evaluate", len(runs) * test, "frames", sum(h(test, rates["score"].get(run)) for run in runs))
    celeb, both = f(PAPER_VIDEOS["Celeb-DF"]["test"]), rates["score"].get("both")
    add("robustness", sec5["robustness_levels"] * celeb, "frames", h(sec5["robustness_levels"] * celeb, both))
    crf = sec5["crfs"] * celeb
    add("compression (re-encoding not measured)", crf, "frames", h(crf, rates.get("preprocess")) + h(crf, both))
    add("partial", len(sec5["partial_runs"]) * sec5["regions"] * celeb, "frames",
        sum(h(sec5["regions"] * celeb, rates["score"].get(r)) for r in sec5["partial_runs"]))
    return pd.DataFrame(rows)


def stage_graph(d: pd.DataFrame) -> dict[str, list[str]]:
    "The projection's stages → the stages each reads from, as in dvc.yaml (Sec. 5 reads run `both`; Table 7 gsrm, rfm too)."
    trains = [s for s in d.stage if s.startswith("train@")]
    table7 = [t for t in trains if t in ("train@both", "train@gsrm", "train@rfm")]
    reads = {"preprocess": [], "evaluate": trains, "partial": table7}
    reads.update({t: ["preprocess"] for t in trains})
    return {s: reads.get(s, [t for t in trains if t == "train@both"]) for s in d.stage}


def wall_hours(d: pd.DataFrame, gpus: int) -> float:
    """Hours of the projection `d` on `gpus` GPUs scheduled over the stage graph as `bigarts repro` schedules them:
    preprocessing split by video over every GPU (engine.paper.preprocess.shards), each other stage on one GPU."""
    from bigarts.scheduler import makespan
    hours = {**dict(zip(d.stage, d.hours)), "preprocess": d.set_index("stage").hours["preprocess"] / gpus}
    return makespan(stage_graph(d), hours, gpus, {s: 1 for s in d.stage})


def paper_runs(params: str, only: list[str] | None = None) -> dict:
    "{run: (its TrainConfig in the paper profile, its paper training set)}."
    from bigarts.runs import read_runs
    from bigarts.train import TrainConfig, train_settings
    out = {}
    for run, r in read_runs(params, "paper").items():
        if only and run not in only: continue
        r = dict(r); on = r.pop("train_on", "Celeb-DF")
        out[run] = (TrainConfig(**{**train_settings("paper", params, r.get("method")), **r, "progress": False}), on)
    return out


def timed(fn, steps: int, warmup: int, device) -> float:
    "Seconds per call of fn(), after `warmup` untimed calls (compilation, allocations)."
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup): fn()
    sync(); t = time.perf_counter()
    for _ in range(steps): fn()
    sync(); return (time.perf_counter() - t) / steps


def measure_run(cfg, cache: Path, device, steps: int, warmup: int, score_batch: int) -> dict:
    "img/s of one run's training step (model only and end to end) and of its scoring, with its own settings."
    from bigarts.cache import FaceCache
    from bigarts.model import cls_logits
    from bigarts.train import build_model, make_loader, resolve, to_device, train_step
    from bigarts.trainset import AUGMENTATIONS, ForgeryDataset
    flags = resolve(cfg, device)
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    if flags["channels_last"]: model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if flags["compile"] else model
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    ds = ForgeryDataset(FaceCache(cache), split="train", size=cfg.size, seed=0, batch_size=cfg.batch_size,
                        fake_kinds=AUGMENTATIONS[cfg.augment])
    it = iter(make_loader(ds, cfg, 0, pin=device.type == "cuda"))
    fixed = to_device(next(it), device, flags["channels_last"])
    B = cfg.batch_size
    model_only = B / timed(lambda: train_step(net, fixed, opt, cfg, flags["amp"]), steps, warmup, device)
    e2e = B / timed(lambda: train_step(net, to_device(next(it), device, flags["channels_last"]), opt, cfg, flags["amp"]),
                    steps, warmup, device)
    x = fixed["image"][:1].repeat(score_batch, 1, 1, 1)
    def score():
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=flags["amp"]): cls_logits(model, x)
    model.eval(); s = score_batch / timed(score, steps, warmup, device); model.train()
    return {"model_only": model_only, "e2e": e2e, "score": s, **{f"effective_{k}": v for k, v in flags.items()}}


def face_cache(work: Path, size: int, device: str, workers: int) -> Path:
    "A face cache of the synthetic corpus's Celeb-DF stand-in (size tiny) at `size`², built with the real pipeline."
    from bigarts import datasets, synth
    from bigarts.preprocess import preprocess
    synth.build_corpus(work/"corpus", synth.SynthConfig(seed=0, size="tiny", datasets=("celebdf",), workers=workers))
    preprocess(datasets.index_dataset("celebdf", work/"corpus"/datasets.DATASETS["celebdf"].folder), work/"faces", every=1, size=size, workers=1, device=device,
               progress=False, crop_format="bmp")
    return work/"faces"


def preprocess_rate(work: Path, videos: int, n_frames: int, every: int, device: str, workers: int) -> float:
    "Sampled frames/s of preprocess() on generated 720p clips, the whole call (model loading included)."
    from bigarts.cache import FaceCache
    from bigarts.preprocess import preprocess
    from bigarts.video import write_video
    from preprocess import clip_720p
    write_video(work/"clip.mp4", clip_720p(n_frames), crf=23)
    idx = pd.DataFrame([dict(video_id=f"clips/v{i}", dataset="clips", split="test", label=0, source_id="",
                             identity=f"v{i}", path=str(work/"clip.mp4")) for i in range(videos)])
    t = time.perf_counter()
    preprocess(idx, work/"clip_faces", every=every, size=256, workers=workers, device=device, progress=False)
    return len(FaceCache(work/"clip_faces").manifest) / (time.perf_counter() - t)


def main(argv=None) -> int:
    cuda = torch.cuda.is_available()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--runs", default=None, help="comma-separated runs (default: every run of the paper profile)")
    p.add_argument("--size", type=int, default=None, help="input size (default: each run's own; 64 on a CPU)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: each run's own; 8 on a CPU)")
    p.add_argument("--steps", type=int, default=20 if cuda else 2)
    p.add_argument("--warmup", type=int, default=5 if cuda else 1)
    p.add_argument("--frames-per-video", type=int, default=300, help="assumed length of every video (the paper does not say)")
    p.add_argument("--clips", type=int, default=8 if cuda else 2, help="720p clips for the preprocessing figure")
    p.add_argument("--workers", type=int, default=1, help="preprocessing worker processes")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    device = torch.device("cuda" if cuda else "cpu")
    card = torch.cuda.get_device_name(0) if cuda else f"CPU ({torch.get_num_threads()} threads) — CPU figures, not a GPU's"
    print(f"device: {card}; torch {torch.__version__}")
    from bigarts.core import load_params
    runs = paper_runs(a.params, a.runs.split(",") if a.runs else None)
    small = dict(size=a.size or 64, batch_size=a.batch or 8, workers=0) if not cuda else \
        {k: v for k, v in (("size", a.size), ("batch_size", a.batch)) if v}
    # measured from random weights (the initial weights do not change the speed; nothing is fetched); the projection keeps the paper's
    measured_as = {run: dataclasses.replace(cfg, pretrained=None, **small) for run, (cfg, _) in runs.items()}
    work = Path(tempfile.mkdtemp(prefix="paper_budget_"))
    pre_every = int(load_params("preprocess", "paper", a.params).get("every", 10))
    t = time.perf_counter()
    rates = {"preprocess": preprocess_rate(work, a.clips, a.frames_per_video, pre_every, str(device), a.workers), "train": {}, "score": {}}
    print(f"preprocess  {rates['preprocess']:8.1f} sampled frames/s  (720p, 1 in {pre_every}, {a.clips} clips, {time.perf_counter() - t:.0f} s)", flush=True)
    sizes = sorted({cfg.size for cfg in measured_as.values()})
    caches = {s: face_cache(work/f"cache{s}", s, str(device), 2) for s in sizes}
    score_batch = int(load_params("evaluate", "paper", a.params).get("batch_size", 64))
    measured, plan = {}, {}
    for run, (paper, on) in runs.items():
        cfg = measured_as[run]
        m = measure_run(cfg, caches[cfg.size], device, a.steps, a.warmup, score_batch)
        measured[run] = {**m, "size": cfg.size, "batch": cfg.batch_size, "method": cfg.method}
        rates["train"][run], rates["score"][run] = m["e2e"], m["score"]
        plan[run] = {"images": paper.total_steps * paper.batch_size, "validations": math.ceil(paper.total_steps / paper.val_every),
                     "train_on": on}
        print(f"train@{run:<20} {m['e2e']:8.1f} img/s end to end  {m['model_only']:8.1f} model only  {m['score']:8.1f} scoring  "
              f"({cfg.method}, {cfg.size}², batch {cfg.batch_size}, amp {m['effective_amp']}, compile {m['effective_compile']})", flush=True)
    rb = load_params("robustness", "paper", a.params)
    sec5 = {"robustness_levels": sum(len(rb[k]) for k in ("jpeg", "blur", "resize", "noise")), "crfs": len(rb["crf"]),
            "partial_runs": [r for r in ("both", "gsrm", "rfm") if r in runs], "regions": len(rb["regions"])}
    d = project(rates, plan, sec5, a.frames_per_video, pre_every)
    print(f"\nProjected `dvc repro` with profile paper on {card}: Sec. 4.1's video counts, {a.frames_per_video} frames a video "
          f"(assumed), 1 in {pre_every} sampled; training as each run's schedule (e.g. {next(iter(plan.values()))['images']:,} images)")
    print(d[["stage", "work", "unit", "hours"]].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"total: {d.hours.sum(min_count=len(d)):.1f} h; largest: " + ", ".join(
        f"{r.stage} {r.hours:.1f} h" for r in d.nlargest(3, "hours").itertuples()))
    wall = {g: wall_hours(d, g) for g in (1, 2, 4, 8)}
    print(f"\nWall time over the stage graph (bigarts repro: preprocessing split over the GPUs, every other stage "
          f"on one, the longest chain first), from the rates measured on {card}:")
    for g, h in wall.items(): print(f"  {g} GPU{'s' if g > 1 else ' '}  {h:7.1f} h  ×{wall[1] / h:.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"device": card, "rates": rates, "runs": measured, "wall_hours": wall,
                                            "projection": d.to_dict(orient="records")}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
