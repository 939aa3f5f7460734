"""A training stage continues from a resume point of the same run and configuration, as the stage notebook does it
(`resume_point`, then `train`): after a kill that came after its best validation, with the model file and the curves
removed as DVC removes a stage's outputs before it runs, it ends with the same model file and the same curves as a run
never interrupted; SIGTERM makes it write its resume point before it exits; a resume point of another configuration is
set aside with a message.
About a minute on 2 CPU cores (six short trainings, each its own process)."""
import json, os, shutil, signal, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from bigarts.checkpoint import BEST, LAST, read_checkpoint

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
PARAMS = ("profile: demo\ntrain:\n  demo: {method: mesoinception4, size: 64, batch_size: 4, epochs: 8, "
          "epoch_length: 1, val_every: 2, log_every: 1, workers: 0, t_max: 4, threads: 1}\n  paper: {}\n")
STAGE = """
import os, signal, sys
from bigarts import train as T
a = T.parse_args(sys.argv[1:])
when = os.environ.get("STOP_AT", "")   # test hooks: SIGKILL after the resume point of step N, SIGTERM at step N
if when.startswith("kill"):
    real = T.save_resume_point
    def save(path, *args, **kw):
        real(path, *args, **kw)
        if args[-1]["step"] == int(when[4:]): os.kill(os.getpid(), signal.SIGKILL)
    T.save_resume_point = save
if when.startswith("term"):
    real_step, calls = T.train_step, []
    def step(*args, **kw):
        calls.append(1)
        if len(calls) == int(when[4:]): os.kill(os.getpid(), signal.SIGTERM)
        return real_step(*args, **kw)
    T.train_step = step
cfg = T.config_from_args(a)                               # what nbs/experiments/train.ipynb does:
resume = T.resume_point(cfg, a.out)
print("resumed" if resume else "from step 0")
T.train(cfg, a.cache, a.out, resume=resume, profile=T.profile_of(a))
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    from bigarts.toy import toy_cache
    d = tmp_path_factory.mktemp("resume")
    toy_cache(d / "cache", identities=4, frames=2, size=64, split="train", dataset="toytr")
    toy_cache(d / "cache", identities=3, frames=2, size=64, split="val", dataset="toyva").finalize()
    (d / "params.yaml").write_text(PARAMS)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def stage(d: Path, out: Path, stop: str = "", *extra) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", STAGE, "--cache", str(d / "cache"), "--out", str(out),
           "--params", str(d / "params.yaml"), "--set", "progress=false", *extra]
    return subprocess.run(cmd, env={**ENV, "STOP_AT": stop}, capture_output=True, text=True, timeout=300)


def dvc_removes_outputs(out: Path):
    "What DVC does before it runs the stage again: its outputs go, the resume point (not an output) stays."
    (out / BEST).unlink()
    (out / "train_metrics.json").unlink()
    shutil.rmtree(out / "dvclive" / "plots")


@pytest.fixture(scope="module")
def uninterrupted(work):
    r = stage(work, work / "uninterrupted")
    assert r.returncode == 0 and "from step 0" in r.stdout, r.stderr
    return work / "uninterrupted"


def same_weights(a: Path, b: Path, name: str):
    x, y = read_checkpoint(a / name), read_checkpoint(b / name)
    assert x["step"] == y["step"] and x["best_step"] == y["best_step"], name
    assert all(torch.equal(x["model"][k], y["model"][k]) for k in x["model"]), f"{name}: weights differ"


def same_curves(a: Path, b: Path):
    "Every DVCLive curve of run `a` has the rows of run `b`'s: the same steps and values (timestamps aside)."
    root = lambda p: p / "dvclive" / "plots" / "metrics"
    table = lambda t: pd.read_csv(t, sep="\t").drop(columns="timestamp", errors="ignore")
    read = lambda p: {t.relative_to(root(p)).as_posix(): table(t) for t in root(p).rglob("*.tsv")}
    x, y = read(a), read(b)
    assert sorted(x) == sorted(y) and {"train/loss.tsv", "val/auc.tsv"} <= set(x), (sorted(x), sorted(y))
    for k in x: pd.testing.assert_frame_equal(x[k], y[k], obj=k)
    assert x["train/loss.tsv"].step.tolist() == list(range(1, 9))                  # every step once, from the first


def test_killed_after_its_best_validation_the_stage_resumes_to_the_same_model_file(work, uninterrupted):
    best = json.loads((uninterrupted / "train_metrics.json").read_text())["best_step"]
    assert best < 6                                         # the best validation comes before the kill at step 6
    out = work / "killed"
    r = stage(work, out, "kill6")
    assert r.returncode == -signal.SIGKILL and read_checkpoint(out / LAST)["step"] == 6, r.stderr
    dvc_removes_outputs(out)
    r = stage(work, out)
    assert r.returncode == 0 and "resumed" in r.stdout, r.stderr
    assert (out / BEST).read_bytes() == (uninterrupted / BEST).read_bytes()            # the very model file
    same_weights(uninterrupted, out, LAST)
    same_curves(uninterrupted, out)                        # the rows before the kill came back with the resume point
    read = lambda p: json.loads((p / "train_metrics.json").read_text())
    metrics = lambda p: {k: v for k, v in read(p).items() if k != "train_img_per_s"}
    assert metrics(out) == metrics(uninterrupted) and metrics(out)["best_step"] == best


def test_sigterm_writes_the_resume_point_before_the_training_exits(work, uninterrupted):
    out = work / "terminated"
    r = stage(work, out, "term3")                                    # SIGTERM during step 3, between two validations
    assert r.returncode != 0 and "SIGTERM: stopped after step 3" in r.stderr, r.stderr
    assert read_checkpoint(out / LAST)["step"] == 3
    dvc_removes_outputs(out)
    r = stage(work, out)
    assert r.returncode == 0 and "resumed" in r.stdout, r.stderr
    assert (out / BEST).read_bytes() == (uninterrupted / BEST).read_bytes()
    same_weights(uninterrupted, out, LAST)
    same_curves(uninterrupted, out)


def test_a_resume_point_of_another_configuration_is_set_aside(work):
    out = work / "other"
    assert stage(work, out, "kill4").returncode == -signal.SIGKILL
    r = stage(work, out, "", "--set", "lr=0.01")
    assert r.returncode == 0 and "from step 0" in r.stdout, r.stderr
    assert "the configuration differs in lr: checkpoint 0.001 ≠ now 0.01" in r.stderr, r.stderr
    assert f"set aside as {out / LAST}.set-aside" in r.stderr
    assert read_checkpoint(out / f"{LAST}.set-aside")["step"] == 4 and read_checkpoint(out / LAST)["step"] == 8
