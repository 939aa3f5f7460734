"params.yaml: every key of every profile is one the code reads; typos stop with the key and the valid values."
import dataclasses, inspect, subprocess, sys
from pathlib import Path

import pytest
import yaml

from bigarts.core import PROFILES, ParamsError, build, load_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"
BIN = Path(sys.executable).parent


def _valid(section, profile):
    from bigarts.preprocess import preprocess
    from bigarts.train import TRAIN_KEYS
    from bigarts.figures import EXPLAIN_KEYS
    from bigarts.robustness import ROBUSTNESS_KEYS
    return {"corpus": ["roots", "synth", "add"],
            "preprocess": [k for k in inspect.signature(preprocess).parameters if k not in ("index", "out", "detector_kw")],
            "train": TRAIN_KEYS,
            "evaluate": ["split", "batch_size", "workers"],
            "robustness": ROBUSTNESS_KEYS, "explain": EXPLAIN_KEYS,
            "engine": list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])}[section]   # bigarts.scheduler.stage_asks


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("section", ["corpus", "preprocess", "train", "evaluate", "robustness", "explain", "engine"])
def test_committed_params_are_valid(section, profile):
    load_params(section, profile, PARAMS, valid=_valid(section, profile))


@pytest.mark.parametrize("profile", PROFILES)
def test_every_stage_asks_ray_for_what_the_engine_section_says(profile):
    "Each stage of dvc.yaml gets an Ask from the engine section; a training's cores are the threads it pins."
    from bigarts.scheduler import stage_asks
    stages = {f"{s}@x" if s == "train" else s: [] for s in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]}
    asks = stage_asks(stages, PARAMS, profile)
    threads = load_params("train", profile, PARAMS).get("threads")
    assert asks["train@x"].gpus == 1 and asks["train@x"].cpus == (threads or 8) and asks["report"].gpus == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_every_run_builds_a_config_and_fills_a_table(profile):
    "Each run of params.yaml builds a TrainConfig, is a stage of dvc.yaml, and fills a row of some table (and vice versa)."
    from bigarts.report import TABLE_RUNS
    from bigarts.runs import read_runs, run_config
    runs = read_runs(PARAMS, profile)
    corpus = {"datasets": {"a": {"stands_in_for": "Celeb-DF"}, "b": {"stands_in_for": "FF++"}}}
    for r in runs: assert run_config(r, corpus, PARAMS, profile).datasets in (["a"], ["b"])
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert stages["train"]["foreach"] == "${runs.common}"                        # one train@RUN stage per run (the evaluate stage reads `runs` itself)
    dag = subprocess.run([str(BIN / "dvc"), "dag", "--dot", "evaluate"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert all(f'"train@{r}" -> "evaluate"' in dag for r in runs)                  # … and waits for every training (dep `models`)
    in_tables = {r for t in ("table1", "table2", "table3", "table4", "table5", "table6") for r in TABLE_RUNS[t]}
    assert set(runs) <= in_tables, f"runs that fill no table: {set(runs) - in_tables}"
    assert set(stages["partial"]["matrix"]["run"]) <= set(runs) & set(TABLE_RUNS["table7"])



def test_runs_are_named_under_common_only(tmp_path):
    "A run set under a profile's own entry would have no train@RUN stage (dvc.yaml iterates over `runs.common`): it stops, naming where runs go."
    from bigarts.runs import read_runs
    p = yaml.safe_load(PARAMS.read_text())
    p["runs"]["paper"] = {"both": {"lr": 0.01}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    with pytest.raises(ParamsError, match="under paper.*'runs: common:'"): read_runs(tmp_path / "params.yaml", "demo")
    p["runs"]["paper"] = None                                                         # an empty entry is harmless
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    assert set(read_runs(tmp_path / "params.yaml", "demo")) == set(p["runs"]["common"])

def test_every_paper_run_can_take_its_initial_weights(tmp_path, monkeypatch):
    "Each run of the paper profile names weights its network has: 'imagenet' only where torchvision publishes them (no download here)."
    import torch
    from bigarts.runs import run_config
    from bigarts.train import build_model
    def offline(*a, **k): raise OSError("offline (test)")
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    hub = torch.hub.get_dir(); torch.hub.set_dir(str(tmp_path))
    corpus = {"datasets": {"a": {"stands_in_for": "Celeb-DF"}, "b": {"stands_in_for": "FF++"}}}
    try:
        for r in yaml.safe_load(PARAMS.read_text())["runs"]["common"]:
            cfg = run_config(r, corpus, PARAMS, "paper")
            if cfg.pretrained == "imagenet":
                with pytest.raises(FileNotFoundError, match=f"put .* in {tmp_path}"): build_model(cfg)   # torchvision has them
            else: assert cfg.pretrained in (None, "none"), (r, cfg.pretrained)
    finally: torch.hub.set_dir(hub)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_method_builds_a_config_from_its_recipe_and_the_train_section(profile):
    "Each method's recipe (bigarts.methods.RECIPES), updated by the profile's `train` section, is a valid TrainConfig."
    from bigarts.methods import METHODS
    from bigarts.train import TrainConfig, train_settings
    for m in METHODS:
        cfg = build(TrainConfig, {**train_settings(profile, PARAMS, m), "method": m})
        assert cfg.size == (64 if profile == "demo" else {"capsule": 300, "xception": 299}.get(m, cfg.size))


def _typo(tmp_path, old, new):
    p = tmp_path / "params.yaml"
    p.write_text(PARAMS.read_text().replace(old, new, 1))
    return p


def test_misspelt_profile_names_key_and_values(tmp_path):
    p = _typo(tmp_path, "profile: demo", "profile: dmeo")
    with pytest.raises(ParamsError, match=r"Unknown profile 'dmeo' \(key 'profile'.*Did you mean 'demo'.*Valid values: demo, paper"):
        load_params("train", path=p)


def test_misspelt_parameter_names_key_and_valid_keys(tmp_path):
    p = _typo(tmp_path, "    batch_size: 8", "    batch_sise: 8")
    from bigarts.train import TrainConfig
    with pytest.raises(ParamsError, match=r"Unknown parameter 'batch_sise'.*Did you mean 'batch_size'.*Valid keys:.*epoch_length"):
        load_params("train", path=p, valid=[f.name for f in dataclasses.fields(TrainConfig)])


def test_experiment_notebook_stops_on_bad_profile(tmp_path):
    p = _typo(tmp_path, "profile: demo", "profile: papr")
    r = subprocess.run([str(BIN / "papermill"), "-k", "python3", "--no-progress-bar", str(ROOT / "nbs/experiments/train.ipynb"),
                        str(tmp_path / "out.ipynb"), "-p", "params_file", str(p), "-p", "out", str(tmp_path / "m")],
                       capture_output=True, text=True, cwd=ROOT, env={"PATH": f"{BIN}:/usr/bin:/bin"})
    assert r.returncode != 0
    assert "Unknown profile 'papr'" in r.stderr + r.stdout and "Did you mean 'paper'" in r.stderr + r.stdout


def test_dvc_pipeline_wires_the_stages():
    r = subprocess.run([str(BIN / "dvc"), "dag", "--md"], capture_output=True, text=True, cwd=ROOT, check=True)
    for stage in ["corpus", "preprocess", "train@both", "train@none", "evaluate", "robustness@jpeg", "compression", "partial@both", "explain", "report"]:
        assert stage in r.stdout
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    sections = set(yaml.safe_load(PARAMS.read_text()))
    for name, st in stages.items():
        for key in st.get("params", []):
            assert key.split(".")[0] in sections, f"stage {name} depends on params key '{key}' absent from params.yaml"


def test_experiment_notebooks_keep_their_parameters_cell():
    "papermill needs the `parameters` tag; nbdev-clean keeps it only because pyproject allows `tags`."
    import json
    for nb in sorted((ROOT / "nbs/experiments").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        assert any("parameters" in c["metadata"].get("tags", []) for c in cells), f"{nb.name} has no parameters cell"
