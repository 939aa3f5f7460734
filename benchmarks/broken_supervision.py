"""Does the demo notice a broken method? BiG-Arts (run `both` of params.yaml) trained at the profile's budget with its
`M_in` supervision intact, and broken: each face's `M_in` target replaced by the next face's in the batch (a roll by one,
so never its own; the classifier and `M_ex` keep their targets). Each condition is trained over several seeds, scored on
every test split of the face cache, and reported per test set and averaged over them: the video AUC (mean over the
seeds, 95% interval over identities and seeds, as in the tables) and the paired difference intact − broken (the same
resamples for both), with whether it holds beyond its interval.

    python benchmarks/broken_supervision.py                        # the demo's data/faces and data/corpus, 3 seeds, 2 jobs
    python benchmarks/broken_supervision.py --seeds 5 --out /tmp/broken --jobs 1

It trains 2 × seeds models (about a minute each at the demo's budget on one core), keeps them under --out, and prints
its figures; it asserts nothing.
"""
from __future__ import annotations
import argparse, json, multiprocessing as mp, sys, time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

CONDITIONS = ("intact", "broken")


def broken_objective(objective):
    "The trainer's objective with each face's `M_in` target taken from the next face of the batch."
    def wrapped(model, cfg):
        f = objective(model, cfg)
        return lambda out, batch: f(out, {**batch, "m_in": batch["m_in"].roll(1, 0)})
    return wrapped


def train_one(job):
    "Train one (condition, seed) in this process; → its model file."
    condition, seed, a = job
    import bigarts.train as T
    from bigarts.runs import read_corpus, run_config
    cfg = replace(run_config(a.run, read_corpus(a.corpus), a.params, a.profile), seed=seed, seeds=1)
    if condition == "broken": T.objective = broken_objective(T.objective)
    out = Path(a.out) / condition / f"seed{seed}"
    if not (out / "checkpoint_best.safetensors").exists():
        T.train(cfg, a.cache, out, profile=a.profile, synthetic=True)
    return condition, seed, out / "checkpoint_best.safetensors"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="data/faces", help="face cache (the preprocess stage's output)")
    ap.add_argument("--corpus", default="data/corpus", help="the corpus stage's folder (corpus.json, index.csv)")
    ap.add_argument("--params", default="params.yaml"); ap.add_argument("--profile", default="demo")
    ap.add_argument("--run", default="both", help="the run of params.yaml to train (default: BiG-Arts)")
    ap.add_argument("--seeds", type=int, default=3); ap.add_argument("--jobs", type=int, default=2, help="trainings at a time")
    ap.add_argument("--out", default="runs/broken_supervision", help="where the models and scores go")
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args(argv)
    for p in (a.cache, a.corpus):
        if not Path(p).exists(): ap.error(f"{p} not found: run the demo's corpus and preprocess stages first (`dvc repro preprocess`).")
    from bigarts.evaluate import evaluate_checkpoint
    from bigarts.uncertainty import average_over_sets, difference, estimate, paired, replicates

    t0, jobs = time.time(), [(c, s, a) for c in CONDITIONS for s in range(a.seeds)]
    with mp.get_context("spawn").Pool(a.jobs) as pool:   # a fresh process per training: the broken objective stays in its own
        models = pool.map(train_one, jobs, chunksize=1)
    t_train = time.time() - t0
    index = pd.read_csv(Path(a.corpus) / "index.csv", keep_default_na=False)
    videos = {}
    for c in CONDITIONS:
        files = [str(m) for cc, _, m in sorted(models, key=lambda x: x[1]) if cc == c]
        evaluate_checkpoint(files, a.cache, index, Path(a.out) / c / "scores", metrics_file=Path(a.out) / c / "metrics.json")
        videos[c] = pd.read_csv(Path(a.out) / c / "scores" / "videos.csv", keep_default_na=False)

    rows, parts = [], {c: ([], [], []) for c in CONDITIONS}
    diffs = ([], [], [], [])
    for ds in sorted(set(videos["intact"].dataset)):
        v = {c: videos[c][videos[c].dataset == ds] for c in CONDITIONS}
        row = dict(test_set=ds, videos=int(v["intact"].video_id.nunique()))
        for c in CONDITIONS:
            point, reps, k = replicates(v[c], ds, measures=("auc",))
            e = estimate(point["auc"], reps["auc"], k)
            row.update({c: e.value, f"{c}_interval": e.interval, "identities": k})
            if np.isfinite(e.value): parts[c][0].append(e.value); parts[c][1].append(reps["auc"]); parts[c][2].append(k)
        pa, ra, pb, rb = paired(v["intact"], v["broken"], ds, measures=("auc",))
        d = difference(pa["auc"], ra["auc"], pb["auc"], rb["auc"])
        if np.isfinite(d.delta):
            for lst, x in zip(diffs, (pa["auc"], ra["auc"], pb["auc"], rb["auc"])): lst.append(x)
        rows.append({**row, "delta": d.delta, "delta_interval": f"[{d.lo:+.3f}, {d.hi:+.3f}]", "p": d.p})
    avg = {c: average_over_sets(*parts[c]) for c in CONDITIONS}
    d = difference(np.mean(diffs[0]), np.mean(diffs[1], 0), np.mean(diffs[2]), np.mean(diffs[3], 0))
    rows.append(dict(test_set="mean over the test sets", videos=sum(r["videos"] for r in rows),
                     identities=sum(r["identities"] for r in rows),
                     **{k: x for c in CONDITIONS for k, x in ((c, avg[c].value), (f"{c}_interval", avg[c].interval))},
                     delta=d.delta, delta_interval=f"[{d.lo:+.3f}, {d.hi:+.3f}]", p=d.p))
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(f"run `{a.run}`, profile {a.profile}: {a.seeds} seeds per condition; trained in {t_train:.0f} s ({a.jobs} at a time)")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    separated = d.lo > 0 or d.hi < 0
    print(f"\nIntact − broken, mean over the test sets: {d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}], p = {d.p:.4f}: the demo "
          f"{'separates' if separated else 'does not separate'} the broken method from the intact one beyond the interval.")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(run=a.run, profile=a.profile, seeds=a.seeds, separated=bool(separated),
                                                table=table.to_dict(orient="records")), indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
