"""Training throughput of the BiG-Arts network (img/s): model only (paper setting and fast setting), end to end
with the real data pipeline, and the CPU at the demo profile's size.

    python benchmarks/train_throughput.py                      # everything that applies to this machine
    python benchmarks/train_throughput.py --only paper,fast    # model-only settings
    python benchmarks/train_throughput.py --cache data/faces --workers 14 --only e2e

Settings (one training step = forward, loss Eq. (2), backward, Adam step):
  paper  fp32, eager, batch 32 (Sec. 4.1), --size (default 256 on CUDA)
  fast   bf16 autocast + channels_last + torch.compile, batch --batch (default 256 on CUDA)
  e2e    the fast setting fed by bigarts.trainset.ForgeryDataset through the trainer's loader (blends + JPEG
         on the fly, --workers processes), needs a face cache (--cache, default data/faces); also reports
         the loader alone, so a shortfall can be pinned on the data or on the model
  demo   the CPU at the demo profile's size and batch (section 'train' of params.yaml, profile demo)
Without CUDA every setting runs on the CPU with small sizes (--size 64, --batch 8, few steps), fp32 and no compile
unless --amp / --compile are given. A benchmark prints its figures; it asserts nothing about time.
"""
from __future__ import annotations
import argparse, json, os, sys, time
from contextlib import nullcontext
from pathlib import Path

import torch

from bigarts.model import BiGArts, bigarts_loss
from bigarts.train import TrainConfig, make_loader, to_device, train_step


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize(device)


def random_batch(n, size, device, channels_last=False):
    x = torch.rand(n, 3, size, size, device=device)
    if channels_last: x = x.contiguous(memory_format=torch.channels_last)
    m_in = (torch.rand(n, 1, size, size, device=device) > .5).float()
    return {"image": x, "m_in": m_in, "m_ex": m_in.flip(-1), "label": (torch.rand(n, device=device) > .5).float()}


FUSED_ADAM = False   # --fused-adam: Adam's single-kernel CUDA implementation


def build(device, amp, channels_last, compile_):
    torch.manual_seed(0)
    model = BiGArts().to(device).train()
    if channels_last: model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), **({"fused": True} if FUSED_ADAM else {}))
    net = torch.compile(model) if compile_ else model
    return net, opt


def timed(step, steps, warmup, batch, device):
    "img/s of `steps` calls of step() after `warmup` untimed ones; also the warm-up seconds (compilation)."
    t = time.perf_counter()
    for _ in range(warmup): step()
    sync(device); t_warm = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(steps): step()
    sync(device); dt = time.perf_counter() - t
    return {"img_per_s": steps * batch / dt, "step_ms": 1000 * dt / steps, "warmup_s": t_warm}


def model_only(device, size, batch, steps, warmup, amp, channels_last, compile_):
    net, opt = build(device, amp, channels_last, compile_)
    b, cfg = random_batch(batch, size, device, channels_last), TrainConfig()
    return timed(lambda: train_step(net, b, opt, cfg, amp), steps, warmup, batch, device)


def end_to_end(device, cache, size, batch, steps, warmup, workers, amp, channels_last, compile_):
    from bigarts.cache import FaceCache
    from bigarts.trainset import ForgeryDataset
    cfg = TrainConfig(size=size, batch_size=batch, workers=workers)
    ds = ForgeryDataset(FaceCache(cache), split="train", size=size, seed=0, batch_size=batch)
    # the loader alone
    it = iter(make_loader(ds, cfg, 0, pin=device.type == "cuda"))
    data = timed(lambda: next(it), steps, warmup, batch, torch.device("cpu")); del it
    # loader + the fast training step
    net, opt = build(device, amp, channels_last, compile_)
    it = iter(make_loader(ds, cfg, 10_000, pin=device.type == "cuda"))
    full = timed(lambda: train_step(net, to_device(next(it), device, channels_last), opt, cfg, amp), steps, warmup, batch, device)
    return {**full, "loader_only_img_per_s": data["img_per_s"], "workers": workers}


def demo_settings(params):
    try:
        from bigarts.train import train_settings
        v = train_settings("demo", params)
        return int(v.get("size", 64)), int(v.get("batch_size", 8)), "params.yaml demo profile"
    except Exception as e:
        return 64, 8, f"defaults (params.yaml demo profile not readable: {e})"


def main(argv=None):
    cuda = torch.cuda.is_available()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="paper,fast,e2e,demo", help="comma-separated settings to run")
    p.add_argument("--size", type=int, default=256 if cuda else 64)
    p.add_argument("--batch", type=int, default=256 if cuda else 8, help="batch of the fast and e2e settings")
    p.add_argument("--paper-batch", type=int, default=32 if cuda else 8)
    p.add_argument("--steps", type=int, default=30 if cuda else 3)
    p.add_argument("--warmup", type=int, default=5 if cuda else 1)
    p.add_argument("--cache", default="data/faces")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=cuda, help="torch.compile in fast/e2e (default: on CUDA)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=cuda, help="bf16 autocast in fast/e2e (default: on CUDA)")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--fused-adam", action="store_true", help="Adam(fused=True) in every setting")
    p.add_argument("--inductor", action="append", default=[], metavar="KEY=VALUE",
                   help="set torch._inductor.config.KEY (e.g. coordinate_descent_tuning=1) before compiling")
    a = p.parse_args(argv)
    global FUSED_ADAM
    FUSED_ADAM = a.fused_adam
    for kv in a.inductor:
        import torch._inductor.config as ic
        k, v = kv.split("=", 1)
        if not hasattr(ic, k): p.error(f"torch._inductor.config has no '{k}'")
        setattr(ic, k, type(getattr(ic, k))(int(v)) if isinstance(getattr(ic, k), (bool, int)) else v)
    device = torch.device("cuda" if cuda else "cpu")
    if cuda: torch.backends.cudnn.benchmark = True   # TF32 flags left at PyTorch's defaults (printed below)
    card = torch.cuda.get_device_name(0) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    tf32 = f"; TF32 conv {torch.backends.cudnn.allow_tf32}, matmul {torch.backends.cuda.matmul.allow_tf32}" if cuda else ""
    print(f"device: {card}; torch {torch.__version__}; size {a.size}²{tf32}; fused Adam {a.fused_adam}; inductor {a.inductor or 'defaults'}")
    only, res = set(a.only.split(",")), {"device": card, "torch": torch.__version__, "size": a.size}

    def report(name, r, what):
        res[name] = r
        extra = ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items() if k != "img_per_s")
        print(f"{name:6s} {r['img_per_s']:9.1f} img/s   {what}   ({extra})", flush=True)

    if "paper" in only:
        report("paper", model_only(device, a.size, a.paper_batch, a.steps, a.warmup, False, False, False),
               f"model only, fp32, eager, batch {a.paper_batch}")
    fast_amp, fast_cl = a.amp, True
    if "fast" in only:
        report("fast", model_only(device, a.size, a.batch, a.steps, a.warmup, fast_amp, fast_cl, a.compile),
               f"model only, {'bf16 autocast' if a.amp else 'fp32'} + channels_last{' + compile' if a.compile else ''}, batch {a.batch}")
    if "e2e" in only:
        if not (Path(a.cache)/"manifest.csv").exists():
            print(f"e2e    skipped: no face cache at {a.cache} (build one with `bigarts preprocess`, or pass --cache)")
        else:
            try:
                report("e2e", end_to_end(device, a.cache, a.size, a.batch, a.steps, a.warmup, a.workers, fast_amp, fast_cl, a.compile),
                       f"ForgeryDataset ({a.cache}) → loader ({a.workers} workers) → fast step, batch {a.batch}")
            except ImportError as e:
                print(f"e2e    skipped: {e}")
    if "demo" in only:
        size, batch, src = demo_settings(a.params)
        steps = 3
        torch.set_num_threads(min(torch.get_num_threads(), os.cpu_count() or 1))
        report("demo", model_only(torch.device("cpu"), size, batch, steps, 1, False, False, False),
               f"CPU, demo profile: size {size}², batch {batch}, fp32 eager ({src})")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
