"""CPU training throughput (img/s) of every row of Tables 1–4 (bigarts.methods.METHODS): one training step =
the trainer's train_step (forward, the method's loss, backward, Adam), eager, on random faces with masks; fp32, or
with --amp bf16 autocast + channels-last as the trainer uses them where `bigarts.train.bf16_pays`. The demo trains every
row on the CPU, so these figures set its step counts and decide where bf16 pays.

    python benchmarks/methods_throughput.py                        # 64², batch 16, every method, fp32
    python benchmarks/methods_throughput.py --amp                  # the same in bf16 + channels-last
    python benchmarks/methods_throughput.py --only rfm,gsrm --steps 5
    python benchmarks/methods_throughput.py --threads 2 --json out.json

A benchmark prints its figures; it asserts nothing about time.
"""
from __future__ import annotations
import argparse, json, os, sys, time
from pathlib import Path

import torch

from bigarts.methods import METHODS
from bigarts.train import TrainConfig, build_model, train_step


def random_batch(n, size):
    m_in = (torch.rand(n, 1, size, size) > .5).float()
    return {"image": torch.rand(n, 3, size, size), "m_in": m_in, "m_ex": m_in.flip(-1), "label": (torch.arange(n) % 2).float()}


def throughput(name, size, batch, steps, warmup, amp=False):
    torch.manual_seed(0)
    cfg = TrainConfig(method=name, size=size, batch_size=batch)
    model = build_model(cfg).train()
    b = random_batch(batch, size)
    if amp:                                   # the trainer's layout with bf16 (bigarts.train.train)
        model = model.to(memory_format=torch.channels_last)
        b["image"] = b["image"].contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    for _ in range(warmup): train_step(model, b, opt, cfg, amp=amp)
    t = time.perf_counter()
    for _ in range(steps): train_step(model, b, opt, cfg, amp=amp)
    dt = time.perf_counter() - t
    return {"img_per_s": steps * batch / dt, "step_s": dt / steps,
            "params_M": sum(p.numel() for p in model.parameters()) / 1e6}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(METHODS), help="comma-separated method names")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--amp", action="store_true", help="bf16 autocast + channels-last instead of fp32")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores, load average {load:.1f}; torch {torch.__version__}; "
          f"{a.size}², batch {a.batch}, {'bf16 + channels-last' if a.amp else 'fp32'} eager, {a.steps} timed steps after {a.warmup} warm-up", flush=True)
    res = {"threads": torch.get_num_threads(), "size": a.size, "batch": a.batch, "amp": a.amp, "load_average": load, "methods": {}}
    for name in a.only.split(","):
        r = throughput(name, a.size, a.batch, a.steps, a.warmup, a.amp)
        res["methods"][name] = r
        print(f"{name:15s} {METHODS[name].row:16s} {r['img_per_s']:8.1f} img/s  {r['step_s']:6.2f} s/step  {r['params_M']:7.1f} M params", flush=True)
    if a.json: Path(a.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
