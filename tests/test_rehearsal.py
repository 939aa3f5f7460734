"""The paper profile rehearsed: `dvc repro` with `profile: paper`, its roots pointing at a tiny corpus of synthetic stand-ins
written by `bigarts synth` in the real datasets' native layouts, read by the real adapters, with CPU-sized training, through the
report. Once with all eight datasets (Tables 1–8, Figs. 6, 7, 9; Table 3 and Fig. 6 with WildDeepFake), once with two (FF++
and UADFV: no Celeb-DF, so every Celeb-DF-trained row, Tables 7 and 8 and Figs. 6, 7, 9 say why they have no number).
Both pass the audit of tests/audit.py: every number of their tables is recomputed from the scores they saved."""
import json
from pathlib import Path

import pandas as pd
import pytest

from audit import audit
from sklearn.metrics import roc_auc_score as auc
import yaml

from test_repro import _copy_repo, dvc

RUNS = {"both": {}, "ex": {"variant": "ex", "seeds": 2}, "ffpp_both": {"train_on": "FF++"}}   # Tables 1–3, 5–8 (both), 6 (ex), 4 (ffpp_both)
STAGES = ["corpus", "preprocess", *(f"train@{r}" for r in RUNS), "evaluate", *(f"robustness@{p}" for p in ("jpeg", "blur", "resize", "noise")),
          "compression", "partial@both", "explain", "report"]


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    "The eight stand-ins, size tiny, as `bigarts synth --out DIR --size tiny` writes them."
    from bigarts import synth
    root = tmp_path_factory.mktemp("datasets")
    synth.build_corpus(root, synth.SynthConfig(seed=0, size="tiny", workers=2))
    return root


def _rehearse(tmp: Path, standins: Path, datasets) -> dict:
    "A copy of the repository with `profile: paper`, roots for `datasets` only, CPU-sized settings; after `dvc repro`."
    from bigarts.datasets import DATASETS
    repo = _copy_repo(tmp / "repo")
    p = yaml.safe_load((repo / "params.yaml").read_text())
    assert p["profile"] == "demo" and set(p["corpus"]["paper"]["roots"]) == set(DATASETS) - {"own"}   # the paper profile names all eight
    p["profile"] = "paper"
    p["corpus"]["paper"]["roots"] = {n: str(standins / DATASETS[n].folder) for n in datasets}
    p["preprocess"]["paper"] = dict(every=3, workers=1)
    p["train"]["paper"] = dict(size=64, batch_size=2, epochs=2, epoch_length=1, t_max=2, val_every=2, workers=0, pretrained="none")
    p["runs"]["common"] = RUNS
    for k, levels in (("jpeg", [100, 60]), ("blur", [0.0, 0.5]), ("resize", [1.0, 0.5]), ("noise", [0.0, 0.3]), ("crf", [23])):
        p["robustness"]["common"][k] = levels
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False, allow_unicode=True))
    d = yaml.safe_load((repo / "dvc.yaml").read_text())
    d["stages"]["partial"]["matrix"]["run"] = ["both"]                                  # Table 7 with BiG-Arts alone
    (repo / "dvc.yaml").write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True))
    run = dvc(repo, "repro", "--no-commit", timeout=1500)
    return dict(repo=repo, run=run, tables={t.stem: t.read_text() for t in (repo / "tables").glob("table*.md")})


@pytest.fixture(scope="module")
def full(tmp_path_factory, standins):
    from bigarts.synth import MIXES
    return _rehearse(tmp_path_factory.mktemp("paper"), standins, list(MIXES))


@pytest.fixture(scope="module")
def two(tmp_path_factory, standins):
    return _rehearse(tmp_path_factory.mktemp("paper2"), standins, ["ffpp", "uadfv"])


def _ran(r):
    assert r["run"].returncode == 0, r["run"].stdout[-3000:] + r["run"].stderr[-3000:]
    for s in STAGES: assert f"Running stage '{s}'" in r["run"].stdout, s


def test_the_paper_profile_runs_through_the_real_adapters_to_every_table_and_figure(full):
    _ran(full)
    repo = full["repo"]
    index = pd.read_csv(repo / "data/corpus/index.csv", keep_default_na=False)
    assert sorted(index.dataset.unique()) == sorted(["celebdf", "ffpp", "dfd", "dfdcp", "uadfv", "dftimit_lq", "dftimit_hq", "wilddeepfake"])
    meta = json.loads((repo / "data/corpus/corpus.json").read_text())
    assert meta["synthetic"] is True and meta["synth"] is None                     # roots at `bigarts synth` output: said so
    assert sorted(full["tables"]) == [f"table{i}" for i in range(1, 9)]
    for t in ("table1", "table4", "table5", "table6"):
        assert all(f"({c})" in full["tables"][t] for c in ("UADFV", "DT-LQ", "DT-HQ", "FF++", "DFD", "DFDC-P", "Celeb-DF")), t
    assert "wilddeepfake (standing in for WildDeepFake)" in full["tables"]["table3"]
    for t in ("table1", "table3", "table4", "table7", "table8"):   # BiG-Arts has numbers; a cell without one says why
        d = pd.read_csv(repo / f"tables/{t}.csv", keep_default_na=False, na_values=[""])
        big = d[d.setting == "BiG-Arts"]
        assert big.ours.notna().any() and big[big.ours.isna()].reason.notna().all(), (t, big)
    assert "SYNTHETIC" in full["tables"]["table1"]
    assert audit(repo) == []                                                        # every number traces to the saved scores
    ex = pd.read_csv(repo / "results/scores/ex/videos.csv")                         # run `ex` over two seeds: both scored,
    assert sorted(ex.seed.unique()) == [0, 1] and (repo / "models/ex/seeds/1/checkpoint_best.safetensors").is_file()
    m = json.loads((repo / "results/metrics/ex.json").read_text())["test_sets"]["celebdf"]
    per_seed = [auc(g.label, g.score) for _, g in ex[ex.dataset == "celebdf"].groupby("seed")]
    assert m["seeds"] == 2 and abs(m["video_auc"] - sum(per_seed) / 2) < 1e-12        # the tables report their mean
    fig6 = json.loads((repo / "reports/explain.ipynb").read_text())
    shown = "".join("".join(o.get("data", {}).get("text/plain", "")) for c in fig6["cells"] for o in c.get("outputs", []))
    assert "'wilddeepfake': 'WildDeepFake'" in shown                                # Fig. 6 has a WildDeepFake column
    for f in ("fig6_gradcam.png", "fig7_masks.png", "fig9_robustness.png", "families.png"): assert (repo / "figures" / f).stat().st_size > 10_000, f
    truth = pd.read_csv(repo / "results/families.csv", keep_default_na=False)          # roots at `bigarts synth` output: families found
    assert set(truth.dataset) == set(index.dataset) and len(truth) == int(index.label.sum())
    fam = pd.read_csv(repo / "tables/families.csv", keep_default_na=False, na_values=[""])   # (audited above)
    assert set(fam.column) == {"intrinsic", "extrinsic", "both"} and fam[fam.run == "both"].ours.notna().any()
    curves = pd.concat(pd.read_csv(f) for f in (repo / "results/robustness").glob("*.csv"))
    assert curves.dataset.nunique() == 7                                            # Fig. 9: a curve per test set of the paper's seven
    assert not list((repo / "models").glob("*/checkpoint_last.pt"))                 # resume points go once a run has finished


def test_with_two_datasets_every_table_and_figure_is_written_and_says_what_has_no_data(two):
    from bigarts.checkpoint import no_model
    _ran(two)
    repo, tables = two["repo"], two["tables"]
    assert sorted(tables) == [f"table{i}" for i in range(1, 9)]
    assert "no dataset of the corpus stands in for Celeb-DF" in no_model(repo / "models/both/checkpoint_best.safetensors")
    assert json.loads((repo / "models/both/train_metrics.json").read_text())["no_model"].startswith("no dataset of the corpus stands in for Celeb-DF")
    t4 = next(l for l in tables["table4"].splitlines() if l.startswith("| BiG-Arts |"))
    assert t4.count("no test set") == 5 and "uadfv (UADFV)" in tables["table4"] and "ffpp (FF++)" in tables["table4"]   # 2 of 7 columns have data
    assert "DT-LQ, DT-HQ, DFD, DFDC-P, Celeb-DF — no dataset of the corpus stands in for it" in tables["table4"]
    assert "BiG-Arts — no model was trained: no dataset of the corpus stands in for Celeb-DF" in tables["table1"]
    for t in ("table2", "table3", "table7", "table8"):
        assert "| BiG-Arts | no test set /" in tables[t] and "No number: " in tables[t], t
    assert audit(repo) == []
    assert "| M_in + M_ex (BiG-Arts) | not trained | not trained | not trained |" in (repo / "tables/families.md").read_text()
    for f in ("fig6_gradcam.png", "fig7_masks.png", "fig9_robustness.png", "families.png"): assert (repo / "figures" / f).stat().st_size > 0, f
    assert len(pd.read_csv(repo / "results/partial/both.csv")) == 0
