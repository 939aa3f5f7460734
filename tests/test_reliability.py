"""Reliability, each guarantee proven (docs/reliability.md):

- a bad-input corpus (truncated, empty, not-a-video, 1×1, 3000×2000, grayscale, variable frame rate, rotated,
  no face, two faces, spaces and non-ASCII in paths) goes through `bigarts preprocess`, `bigarts detect` and the
  pipeline's index → preprocess → evaluate path without a crash, every input scored or listed with its reason;
- `kill -9` in the middle of preprocessing and of training, then a rerun: the same face cache, the same weights,
  metrics and curves as a run never interrupted;
- every writer of a manifest, checkpoint, metrics file or table writes a temporary file and renames it;
- leak guards: one split per video id, ids unique across datasets, the Celeb-DF test list's 1 = real, checkpoints
  chosen on the validation split only.
"""
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bigarts.cache import FaceCache
from bigarts.core import atomic_write
from bigarts.datasets import check_index, index_corpus, read_celebdf_test_list, read_index, write_index
from bigarts.preprocess import frame_size, preprocess

from clips import CASES, bad_corpus

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
EVERY = 3


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    "The bad-input corpus (`clips.bad_corpus`: ROOT/syn-bad/split.csv + videos/) under a path with a space and an accent."
    return bad_corpus(tmp_path_factory.mktemp("rel") / "cor pus é")


@pytest.fixture(scope="module")
def index(corpus) -> pd.DataFrame:
    with pytest.warns(UserWarning, match="missing.mp4: listed in split.csv but not on disk"):
        return index_corpus(corpus)


@pytest.fixture(scope="module")
def faces(index, tmp_path_factory) -> FaceCache:
    "The face cache of an uninterrupted run (in this process)."
    out = tmp_path_factory.mktemp("faces")
    preprocess(index, out, every=EVERY, progress=False, device="cpu")
    return FaceCache(out)


def reasons(cache: FaceCache) -> pd.Series:
    f = cache.failures
    return f[f.video_id != ""].groupby("video_id").reason.apply(" | ".join)


# ---------------------------------------------------------------- bad input: preprocess, detect, evaluate

def test_preprocess_accounts_for_every_input(index, faces):
    man, why = faces.manifest, reasons(faces)
    ok = set(man.video_id[man.status == "ok"])
    assert set(index.video_id) <= ok | set(why.index)                                # nothing silently lost
    for name, (_, _, expect) in CASES.items():
        vid = f"syn-bad/{name}"
        if expect == "ok": assert vid in ok, (vid, why.get(vid))
        else: assert expect in why[vid], (vid, why[vid])
    assert not any(r.startswith("error:") for r in faces.failures.reason), faces.failures   # no unexpected exception swallowed
    f = faces.failures
    assert f.reason[f.path.str.endswith("missing.mp4")].tolist() == ["listed in split.csv but not on disk"]
    for vid in ("syn-bad/truncated", "syn-bad/zero", "syn-bad/text"):
        assert index.set_index("video_id").path[vid] in why[vid]                    # the reason names the file


def test_odd_frames_are_read_as_a_viewer_shows_them(index, faces):
    p = index.set_index("video_id").path
    assert frame_size(p["syn-bad/rotated"]) == (320, 240)                           # (w, h): display matrix applied, upright
    assert frame_size(p["syn-bad/large"]) == (3000, 2250)
    assert len(faces.landmarks("syn-bad/gray")) == 4 and len(faces.landmarks("syn-bad/large")) == 2
    man = faces.manifest.set_index("video_id")
    assert (man.loc["syn-bad/two_faces", "x0"] > 120).all()                          # the larger face, every frame
    assert man.loc["syn-bad/vfr", "frame"].tolist() == [0, 3, 6, 9]                  # 1 frame in 3, by decoded frame
    cut = man.loc[["syn-bad/cut_short"]]
    assert 0 < len(cut) < 4 and (cut.status == "ok").all()                          # the frames that decode are kept


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint (MesoInception-4 at 64², 2 steps: the trainer is the same for every method, and a BiG-Arts
    checkpoint weighs 230 MB) trained on toy caches with train, val and test splits; records the video ids of every
    frame the trainer scored (`frame_scores`), to prove checkpoint selection never sees the test split."""
    from bigarts import train as T
    from bigarts.toy import toy_cache
    d = tmp_path_factory.mktemp("trained")
    for split in ("train", "val", "test"):
        c = toy_cache(d / "cache", identities=3, frames=2, size=64, split=split, dataset=f"toy{split}")
    c.finalize()
    seen, real = [], T.frame_scores
    def spy(model, dataset, *a, **kw):
        out = real(model, dataset, *a, **kw); seen.append(set(out.video_id)); return out
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(T, "frame_scores", spy)
        m = T.train(T.TrainConfig(method="mesoinception4", size=64, batch_size=2, epochs=2, epoch_length=1, val_every=1, log_every=1, workers=0, progress=False),
                    cache_dir=d / "cache", out_dir=d / "run")
    return dict(ckpt=d / "run" / "checkpoint_best.safetensors", cache=FaceCache(d / "cache"), seen=seen, metrics=m, run=d / "run")


def test_detect_accounts_for_every_input(corpus, trained, tmp_path):
    from bigarts.detect import EXIT_SOME_FAILED, main
    v = corpus / "syn-bad" / "videos"
    out = tmp_path / "scores.json"
    code = main([str(v), str(corpus / "syn-bad" / "missing.mp4"), "--checkpoint", str(trained["ckpt"]), "--every", str(EVERY),
                 "--out", str(out), "--quiet"])
    assert code == EXIT_SOME_FAILED
    rows = {Path(r["path"]).stem: r for r in json.loads(out.read_text())["files"]}
    assert set(rows) == {p.stem for p in v.iterdir()} | {"missing"}                 # one row per input, none dropped
    for name, (_, _, expect) in CASES.items():
        r = rows[name]
        if expect == "ok": assert r["status"] == "scored" and 0 <= r["fake_probability"] <= 1, r
        elif name != "cut_short": assert r["status"] == "failed" and r["problem"] and r["fake_probability"] is None, r
    assert "truncated or corrupt" in rows["cut_short"]["note"]
    assert rows["missing"]["problem"] == "no such file or folder"
    assert not any(r["problem"].startswith("error:") for r in rows.values())


def test_pipeline_evaluate_covers_every_indexed_video(index, faces, trained, tmp_path):
    "The evaluate stage's call (evaluate_runs with the index read back from its CSV): coverage adds up, reasons kept, per run."
    from bigarts.evaluate import evaluate_runs, run_outputs
    write_index(index, tmp_path / "index.csv")
    back = read_index(tmp_path / "index.csv")
    assert back.attrs["problems"] == index.attrs["problems"] != []                   # "listed but not on disk" survives the file
    for run in ("a", "b"):                                                            # two runs of the same checkpoint
        (tmp_path / "models" / run).mkdir(parents=True); (tmp_path / "models" / run / "checkpoint_best.safetensors").symlink_to(trained["ckpt"])
    ms = evaluate_runs(["a", "b"], tmp_path / "models", faces.root, back, tmp_path / "res", split="test", batch_size=8,
                       device="cpu", progress=False)
    assert ms["a"] == ms["b"] == json.loads(run_outputs(tmp_path / "res", "b")[1].read_text())["test_sets"]
    scores = run_outputs(tmp_path / "res", "a")[0]
    cov = json.loads((scores / "coverage.json").read_text())["syn-bad"]
    missing = {x["video_id"]: x["reason"] for x in cov["missing"]}
    assert cov["total"] == len(index) and cov["scored"] + len(missing) == cov["total"]
    videos = pd.read_csv(scores / "videos.csv")
    assert set(videos.video_id) | set(missing) == set(index.video_id) and not set(videos.video_id) & set(missing)
    why = reasons(faces)
    assert missing and all(missing[v] == why[v].split(" | ")[-1] for v in missing)   # the cache's reason, not "no scored frame"
    m = ms["a"]["syn-bad"]
    assert 0 <= m["video_auc"] <= 1 and m["scored"] == cov["scored"]


# ---------------------------------------------------------------- kill -9, then rerun

def _kill_when(proc: subprocess.Popen, ready, timeout=240):
    "SIGKILL `proc` as soon as `ready()` is true; fail if it finished first (the kill must land mid-run)."
    t = time.time()
    while not ready():
        assert proc.poll() is None, f"finished before the kill point (rc {proc.returncode}): {proc.stderr.read()[-2000:]}"
        assert time.time() - t < timeout, "kill point never reached"
        time.sleep(0.01)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL); proc.wait(30)
    assert alive, "finished before the kill landed"


def _tree(root: Path) -> dict[str, object]:
    "Every file under `root` → its bytes (arrays for .npz, whose zip members carry a timestamp); the kill's hidden temp files included."
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file(): continue
        if p.suffix == ".npz":
            z = np.load(p); out[p.relative_to(root).as_posix()] = {k: z[k].tobytes() for k in z.files}
        else: out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def test_kill_preprocess_then_rerun_gives_the_uninterrupted_cache(corpus, faces, tmp_path):
    out = tmp_path / "faces"
    cmd = [sys.executable, "-m", "bigarts.cli", "preprocess", "--dataset", "corpus", "--root", str(corpus), "--out", str(out),
           "--every", str(EVERY), "--device", "cpu", "--quiet"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _kill_when(proc, lambda: any((out / "videos").rglob("rows.csv")))
    done = [p for p in (out / "videos").rglob("rows.csv")]
    assert not (out / "manifest.csv").exists() and 0 < len(done) < len(CASES) - 5    # killed part-way
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "11 videos" in r.stdout and "7 failure line(s)" in r.stderr               # the CLI's summary: 14 indexed, 3 undecodable
    a, b = _tree(faces.root), _tree(out)
    assert sorted(a) == sorted(b)                                                     # no stray or missing file
    diff = [k for k in a if a[k] != b[k]]
    assert not diff, f"differ from the uninterrupted run: {diff[:5]}"


TRAIN_PARAMS = "profile: demo\ntrain:\n  demo: {method: mesoinception4, size: 64, batch_size: 4, epochs: 8, epoch_length: 1, val_every: 2, log_every: 1, workers: 0, t_max: 4}\n  paper: {}\n"


@pytest.fixture(scope="module")
def train_cache(tmp_path_factory):
    from bigarts.toy import toy_cache
    d = tmp_path_factory.mktemp("tc")
    toy_cache(d / "cache", identities=4, frames=2, size=64, split="train", dataset="toytr")
    c = toy_cache(d / "cache", identities=3, frames=2, size=64, split="val", dataset="toyva")
    c.finalize()
    (d / "params.yaml").write_text(TRAIN_PARAMS)
    yield d
    shutil.rmtree(d, ignore_errors=True)   # several runs' checkpoints: gone when the module is done


def _train_cmd(d: Path, out: Path, *extra):
    return [sys.executable, "-m", "bigarts.cli", "train", "--cache", str(d / "cache"), "--out", str(out), "--params", str(d / "params.yaml"),
            "--set", "progress=false", *extra]


@pytest.fixture(scope="module")
def uninterrupted(train_cache):
    out = train_cache / "uninterrupted"
    r = subprocess.run(_train_cmd(train_cache, out), env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


def _same_run(a: Path, b: Path):
    "Two training folders end alike: checkpoints (weights, optimiser, scheduler, step, AUCs), metrics, curves."
    from bigarts.checkpoint import read_checkpoint
    for name in ("checkpoint_last.pt", "checkpoint_best.safetensors"):
        x, y = read_checkpoint(a / name), read_checkpoint(b / name)
        assert x["step"] == y["step"] and x["best_step"] == y["best_step"], name
        assert all(torch.equal(x["model"][k], y["model"][k]) for k in x["model"]), f"{name}: weights differ"
        assert x.keys() == y.keys() and ("optimizer" in x) == (name == "checkpoint_last.pt"), name   # best: weights only
        if "optimizer" in x:
            assert x["scheduler"] == y["scheduler"], name
            ox, oy = x["optimizer"]["state"], y["optimizer"]["state"]
            assert all(torch.equal(ox[i][k], oy[i][k]) for i in ox for k in ox[i]), f"{name}: optimiser state differs"
        assert x["val_auc"] == y["val_auc"] or (np.isnan(x["val_auc"]) and np.isnan(y["val_auc"]))
    ma, mb = (json.loads((p / "train_metrics.json").read_text()) for p in (a, b))
    timing = {"train_img_per_s"}
    assert {k: v for k, v in ma.items() if k not in timing} == {k: v for k, v in mb.items() if k not in timing}
    assert ma["steps"] == 8
    curves = lambda p: {t.relative_to(p / "dvclive/plots/metrics").as_posix(): pd.read_csv(t, sep="\t")
                        for t in (p / "dvclive/plots/metrics").rglob("*.tsv")}
    ca, cb = curves(a), curves(b)
    assert sorted(ca) == sorted(cb) and "val/auc.tsv" in ca
    for k in ca: pd.testing.assert_frame_equal(ca[k], cb[k], obj=k)                 # no row lost, none twice


def test_kill_training_then_resume_gives_the_uninterrupted_run(train_cache, uninterrupted):
    out = train_cache / "killed"
    proc = subprocess.Popen(_train_cmd(train_cache, out), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _kill_when(proc, lambda: (out / "checkpoint_last.pt").exists())
    from bigarts.checkpoint import read_checkpoint
    assert read_checkpoint(out / "checkpoint_last.pt")["step"] < 8
    r = subprocess.run(_train_cmd(train_cache, out, "--resume"), env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    _same_run(uninterrupted, out)


KILL_AT = """
import os, signal, sys
from bigarts import train as T
when, real = sys.argv.pop(1), T.save_resume_point
def save(path, *a, **kw):
    hit = path.name == "checkpoint_last.pt" and a[-1]["step"] == 4
    if hit and when == "before": os.kill(os.getpid(), signal.SIGKILL)
    real(path, *a, **kw)
    if hit and when == "after": os.kill(os.getpid(), signal.SIGKILL)
T.save_resume_point = save
sys.exit(T.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("when, resume_step", [("before", 2), ("after", 4)])
def test_kill_around_the_resume_point(train_cache, uninterrupted, when, resume_step):
    """The worst moments: step 4's validation point logged and its best checkpoint written, its resume point
    `checkpoint_last.pt` not yet ("before"); or written, with nothing after it ("after")."""
    out = train_cache / f"killed_{when}"
    cmd = _train_cmd(train_cache, out)
    r = subprocess.run([sys.executable, "-c", KILL_AT, when, *cmd[4:]], env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr
    from bigarts.checkpoint import read_checkpoint
    assert read_checkpoint(out / "checkpoint_last.pt")["step"] == resume_step
    r = subprocess.run(_train_cmd(train_cache, out, "--resume"), env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    _same_run(uninterrupted, out)


def test_resume_repairs_curves_torn_by_the_kill(train_cache, uninterrupted):
    """DVCLive appends each curve row itself: a kill mid-append leaves a torn last line (here '1', what is left of a
    row '1x<TAB>…'), and DVCLive's summary `metrics.json`, rewritten in place, can be torn too. The resume repairs both
    (`bigarts.train.repair_curve`) and ends exactly as the run never interrupted."""
    out = train_cache / "torn"
    cmd = _train_cmd(train_cache, out)
    r = subprocess.run([sys.executable, "-c", KILL_AT, "after", *cmd[4:]], env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr
    curves = sorted((out / "dvclive/plots/metrics").rglob("*.tsv"))
    assert {"train/loss.tsv", "train/lr.tsv", "val/auc.tsv"} <= {t.relative_to(out / "dvclive/plots/metrics").as_posix() for t in curves}
    for t in curves:
        with open(t, "a", newline="") as f: f.write("5\t0.5\n1")                    # a row past the resume point (step 4), then a torn one
        torn = pd.read_csv(t, sep="\t")
        assert torn.iloc[-1].isna().any() and torn.step.iloc[-1] <= 4                # a plain step filter would keep the torn row
    (out / "dvclive/metrics.json").write_text('{"step": 4, "train": {"lo')
    r = subprocess.run(_train_cmd(train_cache, out, "--resume"), env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("dropped 1 torn line(s) left by an interrupted run: '1'") == len(curves)
    _same_run(uninterrupted, out)                                                     # every curve: no row lost, none twice, none torn
    assert json.loads((out / "dvclive/metrics.json").read_text())["step"] == 8


def test_a_rerun_with_other_settings_stops_instead_of_mixing(corpus, faces, tmp_path, capsys):
    from bigarts.cli import main
    import shutil
    shutil.copytree(faces.root, tmp_path / "c")
    assert main(["preprocess", "--dataset", "corpus", "--root", str(corpus), "--out", str(tmp_path / "c"),
                 "--every", "5", "--device", "cpu", "--quiet"]) == 2
    assert "every: cache 3 ≠ now 5" in capsys.readouterr().err
    assert _tree(tmp_path / "c") == _tree(faces.root)                                 # untouched


# ---------------------------------------------------------------- atomic writes

WRITERS = ("to_csv(", "json.dump(", "torch.save(", "savefig(", "np.save", "write_text(", "write_bytes(", ".write(")


def _sources():
    "(file, line number, line) of the library and of the experiment notebooks' code cells."
    for p in sorted((ROOT / "bigarts").glob("*.py")):
        yield from ((p.name, i, l) for i, l in enumerate(p.read_text().splitlines(), 1))
    for p in sorted((ROOT / "nbs" / "experiments").glob("*.ipynb")):
        for c in json.loads(p.read_text())["cells"]:
            if c["cell_type"] == "code": yield from ((p.name, 0, l) for l in "".join(c["source"]).splitlines())


def test_every_output_writer_is_atomic():
    "A regression guard: a line that serialises an output must write through `atomic_write` (temporary file, then rename)."
    allowed = {"synth.py": ("vw.write(",),   # the corpus clips: inputs, not outputs; the corpus stage rebuilds its folder whole
               "evaluate.py": ("tqdm.write(",)}   # a console line beside the progress bar
    bad = [f"{f}:{i}: {l.strip()}" for f, i, l in _sources() if any(w in l for w in WRITERS) and "atomic_write(" not in l
           and not l.lstrip().startswith(("#", '"')) and not any(a in l for a in allowed.get(f, ()))]
    assert not bad, "non-atomic writes:\n" + "\n".join(bad)


def test_nothing_is_unpickled_as_code():
    "A regression guard: every `torch.load` reads with `weights_only=True`, and nothing else unpickles (pickle, np.load with pickles)."
    unsafe = ("pickle.load", "pickle.loads", "read_pickle", "allow_pickle=True", "weights_only=False", "dill.", "joblib.load")
    bad = [f"{f}:{i}: {l.strip()}" for f, i, l in _sources() if not l.lstrip().startswith(("#", '"'))
           and (any(u in l for u in unsafe) or ("torch.load(" in l and "weights_only=True" not in l))]
    assert not bad, "unsafe loads:\n" + "\n".join(bad)


def test_a_failure_mid_write_leaves_the_previous_file(tmp_path):
    p = tmp_path / "metrics.json"
    with atomic_write(p) as f: json.dump({"auc": 0.9}, f)
    with pytest.raises(OSError, match="disk full"):
        with atomic_write(p) as f:
            f.write('{"auc": 0.'); f.flush(); raise OSError("disk full")
    assert json.loads(p.read_text()) == {"auc": 0.9} and [x.name for x in tmp_path.iterdir()] == ["metrics.json"]


def test_a_kill_mid_write_leaves_the_previous_file(tmp_path):
    "A power cut in the middle of `checkpoint_last.pt`: the previous checkpoint still loads."
    from bigarts.checkpoint import load_checkpoint, save_resume_point
    from bigarts.train import TrainConfig, build_model
    cfg = TrainConfig(method="mesoinception4", size=64)
    m = build_model(cfg); opt = torch.optim.Adam(m.parameters()); sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 4)
    save_resume_point(tmp_path / "checkpoint_last.pt", m, opt, sch, cfg, {"step": 2})
    before = (tmp_path / "checkpoint_last.pt").read_bytes()
    code = ("import io, os, signal, sys, torch\nfrom bigarts.core import atomic_write\n"
            "with atomic_write(sys.argv[1], 'wb') as f:\n    f.write(open(sys.argv[1], 'rb').read()[:1000]); f.flush(); os.fsync(f.fileno())\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "checkpoint_last.pt")], env=ENV, capture_output=True, timeout=60)
    assert r.returncode == -signal.SIGKILL
    assert (tmp_path / "checkpoint_last.pt").read_bytes() == before
    assert load_checkpoint(tmp_path / "checkpoint_last.pt")[1]["step"] == 2
    assert [x.name.startswith(".checkpoint_last.pt.") for x in tmp_path.iterdir()].count(True) == 1   # the torn temp, beside it


def test_a_kill_mid_video_is_cleaned_up_on_the_rerun(index, faces, tmp_path):
    "Crops and a torn temp file left by a video killed part-way disappear when the rerun redoes it."
    import shutil
    shutil.copytree(faces.root, tmp_path / "c")
    c = FaceCache(tmp_path / "c"); d = c.video_dir("syn-bad/real")
    (d / "rows.csv").unlink(); (d / "000099.png").write_bytes(b"stale"); (d / ".000003.png.x1y2.tmp").write_bytes(b"torn")
    man = c.manifest[c.manifest.video_id == "syn-bad/real"]
    crops = {int(f): c.image("syn-bad/real", int(f)) for f in man.frame}
    c.write_video("syn-bad/real", man, crops, c.landmarks("syn-bad/real"))
    assert sorted(p.name for p in d.iterdir()) == sorted(p.name for p in faces.video_dir("syn-bad/real").iterdir())
    from bigarts.preprocess import process_video                                   # a video that only has a failure line
    d = c.video_dir("syn-bad/text"); (d / ".failures.csv.k9.tmp").write_bytes(b"torn")
    rec = index.set_index("video_id").loc["syn-bad/text"].to_dict() | {"video_id": "syn-bad/text"}
    process_video(rec, c, None, None, every=EVERY)
    assert [p.name for p in d.iterdir()] == ["failures.csv"] and (d / "failures.csv").read_bytes() == (faces.video_dir("syn-bad/text") / "failures.csv").read_bytes()


# ---------------------------------------------------------------- leak guards

def test_a_video_in_two_splits_stops():
    df = pd.DataFrame(dict(video_id=["d/a", "d/b", "d/a"], dataset="d", split=["train", "val", "test"], label=0, source_id="",
                           identity="x", path=""))
    with pytest.raises(ValueError, match="listed more than once: d/a"): check_index(df)
    check_index(df.iloc[:2])


def test_ids_unique_across_datasets(tmp_path):
    "Two datasets with the same file names: distinct ids, so their videos' scores are never averaged together."
    for ds in ("syn-one", "syn-two"):
        (tmp_path / ds / "videos").mkdir(parents=True)
        for n in ("r0", "f0"): (tmp_path / ds / "videos" / f"{n}.mp4").write_bytes(b"x")
        pd.DataFrame([("r0", 0, "test", "", "a"), ("f0", 1, "test", "r0", "a")],
                     columns=["name", "label", "split", "source", "identity"]).to_csv(tmp_path / ds / "split.csv", index=False)
    df = index_corpus(tmp_path)
    assert sorted(df.video_id) == ["syn-one/f0", "syn-one/r0", "syn-two/f0", "syn-two/r0"]
    assert set(df.source_id) == {"", "syn-one/r0", "syn-two/r0"}                   # a fake's source in its own dataset
    from bigarts.metrics import video_scores
    frames = df.assign(frame=0, score=np.arange(4.0))[["video_id", "frame", "label", "score"]]
    assert len(video_scores(frames)) == 4


def test_celebdf_test_list_convention(tmp_path):
    "In List_of_testing_videos.txt 1 means real and 0 fake; our labels are the reverse (1 = fake); the first line is a video."
    p = tmp_path / "List_of_testing_videos.txt"
    p.write_text("1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n1 Celeb-real/id0_0000.mp4\n")
    assert read_celebdf_test_list(p) == {"YouTube-real/00170": 0, "Celeb-synthesis/id0_id1_0000": 1, "Celeb-real/id0_0000": 0}
    p.write_text("0 Celeb-real/id0_0000.mp4\n")                                     # the convention inverted: stop
    with pytest.raises(ValueError, match="in this list 1 means real, 0 fake"): read_celebdf_test_list(p)


def test_celebdf_test_videos_never_reach_train_or_val(tmp_path):
    from bigarts.datasets import index_dataset
    for i in range(3):
        for k in range(3):
            for f in (f"Celeb-real/id{i}_{k:04d}.mp4", f"Celeb-synthesis/id{i}_id{(i + 1) % 3}_{k:04d}.mp4"):
                (tmp_path / f).parent.mkdir(parents=True, exist_ok=True); (tmp_path / f).write_bytes(b"x")
    (tmp_path / "YouTube-real").mkdir(); (tmp_path / "YouTube-real" / "00000.mp4").write_bytes(b"x")
    listed = ["Celeb-real/id0_0000", "Celeb-synthesis/id1_id2_0001", "YouTube-real/00000"]
    (tmp_path / "List_of_testing_videos.txt").write_text("".join(f"{int('synthesis' not in n)} {n}.mp4\n" for n in listed))
    df = index_dataset("celebdf", tmp_path).set_index("video_id")
    test = set(df.index[df.split == "test"])
    assert test == {f"celebdf/{n}" for n in listed}                                  # the list, all of it, nothing else
    tv = df[df.split != "test"]
    assert not set(tv.index) & test and (tv.split.isin(["train", "val"])).all()
    fk = tv[tv.source_id.isin(tv.index)]                  # (a fake off the list may come from a listed real: the official protocol)
    assert len(fk) and (fk.split.values == tv.split[fk.source_id].values).all()     # a fake and its source: one of train or val


def test_checkpoints_are_chosen_on_validation_only(trained):
    "The trainer scores the val split, never test; checkpoint_best is the best validation AUC (a tie: the later)."
    c = trained["cache"].manifest
    val, test = set(c.video_id[c.split == "val"]), set(c.video_id[c.split == "test"])
    assert len(trained["seen"]) == 2 and all(s == val for s in trained["seen"]) and test
    aucs = pd.read_csv(trained["run"] / "dvclive/plots/metrics/val/auc.tsv", sep="\t")
    best = aucs[aucs.auc == aucs.auc.max()].step.max()
    from bigarts.checkpoint import read_checkpoint
    ck = read_checkpoint(trained["ckpt"])
    assert ck["step"] == ck["best_step"] == trained["metrics"]["best_step"] == best
    assert ck["best_auc"] == pytest.approx(aucs.auc.max())
