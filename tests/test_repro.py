"""A real `dvc repro` of the demo pipeline over a corpus seeded with bad input (docs/reliability.md).

The repository's tracked files are copied into a temporary folder (a fresh git repository; the committed demo outputs,
`dvc.lock` and the executed notebooks are left behind, so every output is made here). Its `params.yaml` asks for a
tiny synthetic corpus with the Celeb-DF stand-in only (written in Celeb-DF's layout, read by its adapter), a two-step training at 64², one run (`both`: `runs` cut to it,
so dvc.yaml has one train stage), and adds the bad-input corpus of `tests/clips.py` through `corpus.demo.add` —
the folder of "the user's own videos". `dvc repro evaluate robustness@jpeg`, then the `report` stage alone, must
finish, and every bad case must reach the face cache's failure list and the evaluation's coverage with its reason. About 2 minutes on 2 CPU cores (BiG-Arts trains at ~0.2 img/s here).
"""
import json, os, shutil, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from clips import BAD_DATASET, CASES, MISSING, bad_corpus

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LEFT_BEHIND = ("dvc.lock", "models/", "results/", "tables/", "figures/", "reports/")   # outputs: the run here makes its own
NOTED = {n: why for n, (_, _, why) in CASES.items() if why != "ok"}                  # the cases the face cache reports
BAD = {n: why for n, why in NOTED.items() if n != "cut_short"}                        # … of which these cannot be scored (cut_short keeps 4 frames)


def _env(repo: Path) -> dict:
    "The stages find papermill on PATH and import the copy's `bigarts`; DVC keeps its site cache inside the test folder."
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(repo),
            "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(repo.parent / "dvc-site")}


def _copy_repo(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if f.startswith(LEFT_BEHIND) or not (ROOT / f).is_file(): continue
        (dest / f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT / f, dest / f)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)                     # DVC wants a git repository (no commit needed)
    return dest


def _tiny_params(repo: Path, add: list[str]):
    "The repository's params.yaml with only what a tiny run needs overridden."
    p = yaml.safe_load((repo / "params.yaml").read_text())
    p["profile"] = "demo"
    p["corpus"]["demo"] = dict(synth=dict(seed=0, size="tiny", workers=1), roots={"celebdf": "data/corpus/Celeb-DF-v2"}, add=add)   # Celeb-DF's stand-in
    p["preprocess"]["demo"] = dict(every=3, workers=1, crop_format="bmp")   # the demo's format
    p["train"]["demo"] = dict(size=64, batch_size=2, epochs=2, epoch_length=1, t_max=2, val_every=2, workers=0, recipes="shared")
    p["robustness"]["common"]["jpeg"] = [100]                                          # the report draws Fig. 9 from at least one curve
    p["runs"]["common"] = {"both": {}}                                                  # one training (one train@RUN stage): the evaluate stage scores it
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False, allow_unicode=True))


def dvc(repo: Path, *args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "dvc"), *args], cwd=repo, env=_env(repo), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def repro(tmp_path_factory):
    "The copy after `dvc repro --no-commit evaluate robustness@jpeg` and `dvc repro --no-commit -s report` (outputs not cached: two 224 MB checkpoints)."
    repo = _copy_repo(tmp_path_factory.mktemp("repro") / "repo")
    own = bad_corpus(tmp_path_factory.mktemp("own") / "my vidéos")                   # a space and an accent in the folder
    _tiny_params(repo, [str(own)])
    run = dvc(repo, "repro", "--no-commit", "evaluate", "robustness@jpeg")
    report = dvc(repo, "repro", "--no-commit", "-s", "report") if run.returncode == 0 else None
    yield dict(repo=repo, own=own, run=run, report=report)
    shutil.rmtree(repo, ignore_errors=True)


def test_dvc_repro_runs_every_stage_without_a_crash(repro):
    r = repro["run"]
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for stage in ("corpus", "preprocess", "train@both", "evaluate", "robustness@jpeg"):
        assert f"Running stage '{stage}'" in r.stdout, stage
    assert repro["report"].returncode == 0, repro["report"].stdout[-3000:] + repro["report"].stderr[-3000:]
    lock = yaml.safe_load((repro["repo"] / "dvc.lock").read_text())["stages"]
    assert {"corpus", "preprocess", "train@both", "evaluate", "report"} <= set(lock)
    assert lock["corpus"]["params"]["params.yaml"]["corpus"]["demo"]["add"] == [str(repro["own"])]   # DVC tracks the list (not the files)


def test_the_added_folder_is_indexed_beside_the_synthetic_sets(repro):
    d = repro["repo"] / "data/corpus"
    meta = json.loads((d / "corpus.json").read_text())
    assert set(meta["datasets"]) == {"celebdf", BAD_DATASET} and meta["synthetic"] is True
    assert meta["datasets"]["celebdf"]["stands_in_for"] == "Celeb-DF" and (d / "Celeb-DF-v2/List_of_testing_videos.txt").is_file()
    assert meta["datasets"][BAD_DATASET]["stands_in_for"] is None and meta["datasets"][BAD_DATASET]["added_from"] == str(repro["own"])
    index = pd.read_csv(d / "index.csv", keep_default_na=False)
    bad = index[index.dataset == BAD_DATASET]
    assert sorted(bad.video_id) == sorted(f"{BAD_DATASET}/{n}" for n in CASES) and (bad.split == "test").all()
    assert bad.path.str.startswith(str(repro["own"])).all()                         # indexed in place, not copied
    problems = pd.read_csv(d / "index.problems.csv")
    assert problems.values.tolist() == [[str(repro["own"] / BAD_DATASET / "videos" / f"{MISSING}.mp4"), "listed in split.csv but not on disk"]]


def _cache_reasons(repo: Path) -> pd.Series:
    f = pd.read_csv(repo / "data/faces/failures.csv", keep_default_na=False)
    return f[f.video_id != ""].groupby("video_id").reason.apply(list)


def test_the_face_cache_lists_every_bad_case_with_its_reason(repro):
    repo = repro["repo"]
    why = _cache_reasons(repo)
    for name, expect in NOTED.items():
        assert any(expect in r for r in why[f"{BAD_DATASET}/{name}"]), (name, why.get(f"{BAD_DATASET}/{name}"))
    f = pd.read_csv(repo / "data/faces/failures.csv", keep_default_na=False)
    assert f.reason[f.path.str.endswith(f"{MISSING}.mp4")].tolist() == ["listed in split.csv but not on disk"]
    assert not any(r.startswith("error:") for r in f.reason)                         # no unexpected exception swallowed
    man = pd.read_csv(repo / "data/faces/manifest.csv", keep_default_na=False)
    ok = {f"{BAD_DATASET}/{n}" for n, (_, _, e) in CASES.items() if e == "ok"}
    assert ok <= set(man.video_id[man.status == "ok"])
    crops = man.crop[man.status == "ok"]
    assert len(crops) and crops.str.endswith(".bmp").all() and all((repo / "data/faces" / c).is_file() for c in crops)   # params' crop_format


def test_evaluation_coverage_accounts_for_every_indexed_video(repro):
    repo = repro["repo"]
    cov = json.loads((repo / "results/scores/both/coverage.json").read_text())
    c = cov[BAD_DATASET]
    missing = {m["video_id"]: m["reason"] for m in c["missing"]}
    assert c["total"] == len(CASES) and c["scored"] + len(missing) == c["total"]
    assert set(missing) == {f"{BAD_DATASET}/{n}" for n in BAD}                        # every bad case, and only they
    why = _cache_reasons(repo)
    for v, reason in missing.items(): assert reason == why[v][-1], (v, reason)     # the face cache's reason, not "no scored frame"
    index = pd.read_csv(repo / "data/corpus/index.csv", keep_default_na=False)
    test = set(index.video_id[index.split == "test"])
    videos = pd.read_csv(repo / "results/scores/both/videos.csv", keep_default_na=False)
    all_missing = {m["video_id"] for s in cov.values() for m in s["missing"]}
    assert set(videos.video_id) | all_missing == test and not set(videos.video_id) & all_missing
    metrics = json.loads((repo / "results/metrics/both.json").read_text())["test_sets"]
    assert metrics[BAD_DATASET]["scored"] == c["scored"] and 0 <= metrics[BAD_DATASET]["video_auc"] <= 1


def test_the_report_leaves_the_added_set_out_of_the_papers_tables(repro):
    repo = repro["repo"]
    tables = sorted((repo / "tables").glob("table*.md"))
    assert {"table1.md", "table2.md"} <= {t.name for t in tables}
    for t in tables: assert BAD_DATASET not in t.read_text(), t.name
    assert "celebdf (Celeb-DF)" in (repo / "tables/table1.md").read_text()
    assert (repo / "figures/fig9_robustness.png").stat().st_size > 0


def _corpus_stage(repo: Path, tmp: Path, params: dict) -> subprocess.CompletedProcess:
    (tmp / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    return subprocess.run([str(BIN / "papermill"), "-k", "python3", "nbs/experiments/corpus.ipynb", str(tmp / "out.ipynb"),
                           "-p", "params_file", str(tmp / "params.yaml"), "-p", "out", str(tmp / "corpus")],
                          cwd=repo, env=_env(repo), capture_output=True, text=True, timeout=300)


def test_a_wrong_added_folder_stops_before_any_work(repro, tmp_path):
    "A folder that does not exist, a dataset named like one of the roots, a demo root off its stand-in, a missing paper root: a clear stop, no corpus built."
    repo = repro["repo"]
    clash = tmp_path / "clash" / "celebdf"
    (clash / "videos").mkdir(parents=True); (clash / "videos" / "a.mp4").write_bytes(b"x")
    (clash / "split.csv").write_text("name,label,split,source,identity\na,0,test,,a\n")
    demo = lambda add, root="corpus/Celeb-DF-v2": {"profile": "demo", "corpus": {"demo": {"synth": {"size": "tiny"}, "roots": {"celebdf": str(tmp_path / root)}, "add": add}}}
    for params, expect in [
        (demo([str(tmp_path / "nowhere")]), f"folder {tmp_path / 'nowhere'} does not exist. Expected the corpus layout DIR/<dataset>/split.csv"),
        (demo([str(clash.parent)]), f"dataset 'celebdf' of {clash.parent} has the name of a dataset of the corpus"),
        (demo(str(clash.parent)), "must be a list of folders"),
        (demo([], "elsewhere"), f"roots.celebdf is {tmp_path / 'elsewhere'}, but its synthetic stand-in is written to"),
        ({"profile": "paper", "corpus": {"paper": {"roots": {"ffpp": str(tmp_path / "nowhere")}}}},
         f"ffpp: dataset root {tmp_path / 'nowhere'} does not exist or is not a folder. Expected layout:"),
        ({"profile": "paper", "corpus": {"paper": {"roots": {"celebdf": str(tmp_path), "celebdf2": "x"}}}}, "roots names unknown datasets ['celebdf2']")]:
        r = _corpus_stage(repo, tmp_path, params)
        assert r.returncode != 0 and expect in r.stdout + r.stderr, (expect, r.stderr[-2000:])
        assert not (tmp_path / "corpus" / "index.csv").exists() and not (tmp_path / "corpus" / "Celeb-DF-v2").exists()


def test_the_pipeline_model_file_says_what_it_is_and_every_score_names_it(repro):
    "train@both writes a safetensors model file that records its data and profile; evaluate names its SHA-256 in every output."
    import pandas as pd
    from bigarts.checkpoint import describe, load_checkpoint
    repo = repro["repo"]
    _, meta = load_checkpoint(repo / "models/both/checkpoint_best.safetensors")
    assert meta["training"] == {"datasets": ["celebdf"], "synthetic": True, "profile": "demo",
                                "selected_on": "validation video AUC"}
    model = json.loads((repo / "results/metrics/both.json").read_text())["model"]
    assert model["sha256"] == meta["sha256"] and model["description"] == describe(meta)
    assert set(pd.read_csv(repo / "results/scores/both/videos.csv").model_sha256) == {meta["sha256"]}
