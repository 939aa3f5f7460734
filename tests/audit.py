"""An audit of the published tables that does not trust their writer: every cell of tables/*.csv (Tables 1–8, and the
artifact-family table, whose fakes' families come from results/families.csv) and every point of
Fig. 9 (results/robustness/*.csv) is recomputed from the scores the stages saved, with code written apart from
bigarts.report, bigarts.uncertainty and bigarts.metrics — pairwise (Mann–Whitney) AUC, an indicator-matrix ROC for the
EER, its own cluster resampling from the documented scheme (stratified by the clusters' labels, a NumPy stream seeded
by [0, crc32(test set)]) — and the Markdown is checked to show what the CSV holds. `audit(root)` returns the list of
discrepancies (empty when every number checks out)."""
import json
import math
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

B, LEVEL, SEED, ALPHA, TOL = 10_000, 0.95, 0, 0.05, 1e-9
TEXT = ("setting", "run", "column", "dataset", "stands_in_for", "measure", "interval", "reason", "reason_long", "vs",
        "video_id", "cluster", "region", "perturbation")
SCORES = {"table7": ("partial", "region"), "table8": ("compression", "crf")}   # Sec. 5 tables: folder, setting column
BEYOND = {"families"}      # tables beyond the paper: no paper column


def read(path):
    "A CSV as written (pandas reads floats back bit for bit), only empty fields missing (a row 'None' stays a name), empty text ''."
    d = pd.read_csv(path, keep_default_na=False, na_values=[""])
    text = [c for c in TEXT if c in d]
    return d.astype({c: object for c in text}).fillna({c: "" for c in text})


def counts(clusters, labels, key, n=B):
    "Cluster draw counts (n, k) for the sorted clusters, stratified (real only, fake only, both), as documented."
    d = pd.DataFrame({"c": clusters, "y": labels})
    names = sorted(set(clusters))
    kind = {c: (0 if g.max() == 0 else 1 if g.min() == 1 else 2) for c, g in d.groupby("c").y}
    rng = np.random.default_rng([SEED, zlib.crc32(key.encode())])
    out = np.zeros((n, len(names)), np.int64)
    for s in (0, 1, 2):
        members = np.array([i for i, c in enumerate(names) if kind[c] == s])
        if not len(members):
            continue
        draws = rng.integers(0, len(members), (n, len(members)))
        np.add.at(out, (np.repeat(np.arange(n), len(members)), members[draws].ravel()), 1)
    return names, out


def auc_pairs(y, s, w):
    "AUC of each weighting: the weighted share of (fake, real) pairs ordered right, ties one half."
    y, s = np.asarray(y), np.asarray(s, float)
    p, q = s[y == 1], s[y == 0]
    m = (p[:, None] > q[None, :]) + 0.5 * (p[:, None] == q[None, :])
    wp, wq = w[:, y == 1], w[:, y == 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("bi,ij,bj->b", wp, m, wq) / (wp.sum(1) * wq.sum(1))


def eer_grid(y, s, w):
    "EER of each weighting from FPR/FNR at every distinct threshold, linearly interpolated at their crossing."
    y, s = np.asarray(y), np.asarray(s, float)
    t = np.unique(s)[::-1]
    above = (s[:, None] >= t[None, :]).astype(float)            # n × thresholds, highest threshold first
    fp, tp = w[:, y == 0] @ above[y == 0], w[:, y == 1] @ above[y == 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = np.hstack([np.zeros((len(w), 1)), fp / fp[:, -1:]])
        fnr = np.hstack([np.ones((len(w), 1)), 1 - tp / tp[:, -1:]])
    out = np.full(len(w), np.nan)
    for b in range(len(w)):
        if not (fp[b, -1] > 0 and tp[b, -1] > 0):
            continue
        i = int(np.argmax(fnr[b] <= fpr[b]))
        d0, d1 = fpr[b, i - 1] - fnr[b, i - 1], fpr[b, i] - fnr[b, i]
        out[b] = fpr[b, i - 1] + (-d0 / (d1 - d0)) * (fpr[b, i] - fpr[b, i - 1])
    return out


def rates(y, s, w, name):
    y, call = np.asarray(y) == 1, np.asarray(s, float) >= 0.5
    tp, fp, fn, tn = (w[:, a & b].sum(1) for a, b in ((call, y), (call, ~y), (~call, y), (~call, ~y)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"accuracy": (tp + tn) / (tp + fp + fn + tn), "precision": tp / (tp + fp), "recall": tp / (tp + fn),
                "f1": 2 * tp / (2 * tp + fp + fn)}[name]


def measure(name, y, s, w):
    return auc_pairs(y, s, w) if name == "auc" else eer_grid(y, s, w) if name == "eer" else rates(y, s, w, name)


def resampled(items, key, name, n=B):
    "(value, (n,) resampled values, clusters) of measure `name` over `items` (mean over seeds; seeds resampled too)."
    ids = [c for c in ("video_id", "frame") if c in items]
    seeds = sorted(items.seed.unique())
    wide = items.pivot_table(index=ids + ["label", "cluster"], columns="seed", values="score", aggfunc="first").dropna()
    y = wide.index.get_level_values("label").to_numpy(int)
    c = wide.index.get_level_values("cluster").to_numpy(str)
    names, cnt = counts(list(c), list(y), key, n)
    pos = np.array([names.index(x) for x in c])
    picks = np.random.default_rng([SEED, zlib.crc32(key.encode()), 1]).integers(0, len(seeds), (n, len(seeds)))
    per_seed = []
    for k in range(len(seeds)):
        s = wide.iloc[:, k].to_numpy(float)
        per_seed.append((measure(name, y, s, np.ones((1, len(y))))[0], measure(name, y, s, cnt[:, pos].astype(float))))
    value = float(np.mean([v for v, _ in per_seed]))
    reps = np.stack([r for _, r in per_seed])[picks, np.arange(n)[:, None]].mean(1)
    return value, reps, len(names)


def interval(value, reps, k):
    "(lo, hi, kind) as documented: percentile; a collapse on 0 or 1 becomes a one-sided bound 0.05 ** (1 / k)."
    if not math.isfinite(value):
        return math.nan, math.nan, "undefined"
    r = reps[np.isfinite(reps)]
    if k < 2 or not len(r):
        return math.nan, math.nan, "none"
    lo, hi = np.percentile(r, [2.5, 97.5])
    if lo == hi == value and value in (0.0, 1.0):
        b = (1 - LEVEL) ** (1 / k)
        return (b, 1.0, "lower bound") if value == 1.0 else (0.0, 1 - b, "upper bound")
    return lo, hi, "two-sided"


def close(a, b):
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= TOL


class Audit:
    def __init__(self, root):
        self.root, self.problems, self.memo = Path(root), [], {}

    def fail(self, where, what):
        self.problems.append(f"{where}: {what}")

    def items(self, table, r):
        "The saved scores one record measures (None: no such scores)."
        if table in SCORES:
            folder, col = SCORES[table]
            f = self.root / "results" / folder / "videos" / f"{r.run}.csv"
            if not f.exists():
                return None
            d = read(f)
            if col not in d:                       # an experiment without data writes no setting column
                return None
            value = r.column.split()[1] if table == "table8" else r.column.lower()
            d = d[d[col].astype(str) == value]
        elif table == "families":                 # the test sets with families, pooled: every real, and the fakes of the column's family
            f = self.root / "results" / "scores" / r.run / "videos.csv"
            if not f.exists():
                return None
            d, truth = read(f), read(self.root / "results" / "families.csv")
            d = d[d.dataset.isin(set(truth.dataset))]
            family = d.video_id.map(dict(zip(truth.video_id, truth.family)))
            return d[(d.label == 0) | (family == r.column)].assign(dataset=r.dataset)
        else:
            f = self.root / "results" / "scores" / r.run / ("frames.csv" if r.column.startswith("Frame") else "videos.csv")
            if not f.exists():
                return None
            d = read(f)
        return d[d.dataset == r.dataset]

    def cell(self, table, r):
        k = (table, r.run, r.column, r.measure)
        if k not in self.memo:
            d = self.items(table, r)
            self.memo[k] = None if d is None or not len(d) or r.dataset == "" else (d, *resampled(d, r.dataset, r.measure))
        return self.memo[k]

    def check_table(self, csv):
        table, where = csv.stem, f"tables/{csv.name}"
        d = read(csv)
        for c in ("ours", "lo", "hi", "interval", "reason"):
            if c not in d:
                return self.fail(where, f"no column '{c}'")
        avg = {}
        for r in d.itertuples():
            at = f"{where} {r.setting} × {r.column}"
            if r.column == "Avg":
                continue
            got = self.cell(table, r)
            if got is None or not math.isfinite(got[1]):
                if r.reason == "":
                    self.fail(at, "no number and no reason")
                if math.isfinite(float(r.ours)):
                    self.fail(at, f"prints {r.ours} where the saved scores give no number")
                continue
            _, value, reps, k = got
            lo, hi, kind = interval(value, reps, k)
            for name, want, have in (("value", value, r.ours), ("lo", lo, r.lo), ("hi", hi, r.hi)):
                if not close(want, have):
                    self.fail(at, f"{name} {have} but the saved scores give {want}")
            if kind != r.interval:
                self.fail(at, f"interval '{r.interval}', recomputed '{kind}'")
            avg.setdefault(r.setting, []).append((value, reps, k))
        for r in d[d.column == "Avg"].itertuples():
            parts = avg.get(r.setting, [])
            value = float(np.mean([v for v, _, _ in parts])) if parts else math.nan
            lo, hi, _ = interval(value, np.mean([x for _, x, _ in parts], 0), sum(k for _, _, k in parts)) if parts else (math.nan,) * 3
            if not (close(value, r.ours) and close(lo, r.lo) and close(hi, r.hi)):
                self.fail(f"{where} {r.setting} × Avg", f"{r.ours} [{r.lo}, {r.hi}], recomputed {value} [{lo}, {hi}]")
        if "delta" in d:
            self.check_differences(table, where, d)
        self.check_markdown(table, csv.with_suffix(".md"), d)

    def check_differences(self, table, where, d):
        ref = {r.column: r for r in d.itertuples() if r.vs == "" and r.setting in set(d.vs)}
        parts = {}
        for r in d.itertuples():
            if r.vs == "":
                continue
            if r.column == "Avg":
                va, ra, vb, rb = (np.mean(x, 0) for x in zip(*parts[r.setting]))
                self.check_difference(f"{where} {r.setting} × Avg", r, va, ra, vb, rb)
                continue
            a, b = self.items(table, r), self.items(table, ref[r.column])
            ids = [c for c in ("video_id", "frame") if c in a]
            common = a[ids].drop_duplicates().merge(b[ids].drop_duplicates())
            va, ra, _ = resampled(a.merge(common), r.dataset, r.measure)
            vb, rb, _ = resampled(b.merge(common), r.dataset, r.measure)
            self.check_difference(f"{where} {r.setting} × {r.column}", r, va, ra, vb, rb)
            if math.isfinite(va - vb):
                parts.setdefault(r.setting, []).append((va, ra, vb, rb))
        p = d.p.to_numpy(float)
        ok = np.flatnonzero(np.isfinite(p))
        order = ok[np.argsort(p[ok], kind="stable")]
        adj, running = np.full(len(p), np.nan), 0.0
        for i, j in enumerate(order):
            running = max(running, min(1.0, p[j] * (len(order) - i)))
            adj[j] = running
        for r, want in zip(d.itertuples(), adj):
            differs = int(np.sign(r.delta)) if want < ALPHA else 0
            if not close(want, r.p_holm) or differs != r.differs:
                self.fail(f"{where} {r.setting} × {r.column}", f"Holm p {r.p_holm} / differs {r.differs}, recomputed {want} / {differs}")

    def check_difference(self, at, r, va, ra, vb, rb):
        x = ra - rb
        x = x[np.isfinite(x)]
        lo, hi = np.percentile(x, [2.5, 97.5])
        p = min(1.0, 2 * min((x <= 0).sum() + 1, (x >= 0).sum() + 1) / (len(x) + 1))
        for name, want, have in (("delta", va - vb, r.delta), ("delta_lo", lo, r.delta_lo), ("delta_hi", hi, r.delta_hi), ("p", p, r.p)):
            if not close(want, have):
                self.fail(at, f"{name} {have}, recomputed {want}")

    def check_markdown(self, table, md, d):
        "Each Markdown cell shows the CSV's number, mark, the paper's number and the interval (or the reason)."
        text = md.read_text()
        rows = {line.split(" | ")[0][2:]: line[2:-2].split(" | ")[1:] for line in text.split("\n### ")[0].splitlines()
                if line.startswith("| ") and not line.startswith("| Setting")}
        for setting, g in d.groupby("setting", sort=False):
            cells = rows.get(setting)
            if cells is None or len(cells) != len(g):
                self.fail(f"{md.name} {setting}", f"row missing or of {len(cells or [])} cells for {len(g)} records")
                continue
            for cell, r in zip(cells, g.itertuples()):
                paper = "—" if r.paper == "" or (isinstance(r.paper, float) and math.isnan(r.paper)) else f"{float(r.paper):.4f}"
                paper = "" if table in BEYOND else f" / {paper}"
                if r.interval in ("", "undefined"):
                    want = f"{r.reason}{paper}"
                else:
                    mark = {1: " ▲", -1: " ▼"}.get(int(r.differs) if "differs" in d and r.differs != "" else 0, "")
                    iv = {"two-sided": f"[{float(r.lo):.3f}, {float(r.hi):.3f}]", "lower bound": f"[≥{float(r.lo):.3f}]",
                          "upper bound": f"[≤{float(r.hi):.3f}]", "none": f"[no interval: {int(r.clusters)} cluster]"}[r.interval]
                    want = f"{float(r.ours):.3f}{mark}{paper}<br>{iv}"
                if cell != want:
                    self.fail(f"{md.name} {setting} × {r.column}", f"shows '{cell}', the CSV holds '{want}'")

    def check_fig9(self):
        for f in sorted((self.root / "results" / "robustness").glob("*.csv")):
            curve, videos = read(f), read(f.parent / "videos" / f.name)
            for r in curve.itertuples():
                v = videos[(videos.dataset == r.dataset) & np.isclose(videos.level.astype(float), float(r.level))]
                value, reps, k = resampled(v, r.dataset, "auc")
                lo, hi, _ = interval(value, reps, k)
                if not (close(value, r.video_auc) and close(lo, r.video_auc_lo) and close(hi, r.video_auc_hi)):
                    self.fail(f"{f.relative_to(self.root)} {r.dataset} at {r.level}",
                              f"{r.video_auc} [{r.video_auc_lo}, {r.video_auc_hi}], recomputed {value} [{lo}, {hi}]")

    def check_metrics(self):
        "`dvc metrics show` carries the same video AUC and interval as the tables' recomputation."
        for f in sorted((self.root / "results" / "metrics").glob("*.json")):
            for ds, m in json.loads(f.read_text())["test_sets"].items():
                v = read(self.root / "results" / "scores" / f.stem / "videos.csv")
                v = v[v.dataset == ds]
                if not len(v):
                    continue
                value, reps, k = resampled(v, ds, "auc")
                lo, hi, _ = interval(value, reps, k)
                if not (close(value, m["video_auc"]) and close(lo, m["video_auc_lo"]) and close(hi, m["video_auc_hi"])):
                    self.fail(f"{f.relative_to(self.root)} {ds}", f"video AUC {m['video_auc']} [{m['video_auc_lo']}, "
                                                                  f"{m['video_auc_hi']}], recomputed {value} [{lo}, {hi}]")


KNOWN = {f"table{i}" for i in range(1, 9)} | BEYOND


def audit(root, tables=None, figure=True, metrics=True) -> list[str]:
    "Every discrepancy between the saved scores and the tables (`tables`: their names; default all), Fig. 9 and the metrics."
    a = Audit(root)
    for t in sorted((Path(root) / "tables").glob("*.csv")):
        if tables is not None and t.stem not in tables:
            continue
        if t.stem not in KNOWN:
            a.fail(t.name, "a table this audit does not know: teach tests/audit.py where its scores are")
            continue
        a.check_table(t)
    if figure:
        a.check_fig9()
    if metrics:
        a.check_metrics()
    return a.problems
