"""`bigarts detect` end to end: videos, images, folders, JSON/CSV, exit codes, every bad-input case, --explain.

A tiny checkpoint (one training step at 32², drawn faces) and a synthetic real/fake clip pair are made once per
session; the tests check the plumbing, not the accuracy of an untrained model."""
import json, os, shutil, subprocess, sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from bigarts.checkpoint import BEST, LAST, load_checkpoint, read_checkpoint, save_model_file
from bigarts.cli import main as cli_main
from bigarts.detect import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from bigarts.video import VideoReader, write_video


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    from bigarts import synth
    from bigarts.toy import toy_cache
    from bigarts.train import TrainConfig, train
    d = tmp_path_factory.mktemp("detect")
    toy_cache(d/"cache", identities=2, frames=2, size=64, dataset="syn-toy")
    cfg = dict(size=32, batch_size=2, epochs=1, epoch_length=1, val_every=1, workers=0, progress=False)
    train(TrainConfig(**cfg, datasets=["syn-toy"], without_validation=True), cache_dir=d/"cache", out_dir=d/"run")   # no val split
    bases = synth.base_faces()
    size = synth.Size(frames=20, test_frames=20, width=320, height=240, train_identities=3, val_identities=1, test_identities=2, clips=1)
    pair = synth.make_pair(synth.get_mix("celebdf"), size, 0, "detect", bases[0], bases[2])
    videos = d/"clips"
    for k in ("real", "fake"): write_video(videos/f"{k}_clip.mp4", pair[k], fps=synth.FPS)
    frame = pair["real"][0]
    image = d/"face.png"
    cv2.imwrite(str(image), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    folder = d/"folder"
    (folder/"sub").mkdir(parents=True)
    shutil.copy(videos/"fake_clip.mp4", folder/"sub"/"fake.mp4")
    shutil.copy(image, folder/"face.jpg.png")
    (folder/"README.txt").write_text("not media")
    yield dict(dir=d, ckpt=d/"run"/"checkpoint_best.safetensors", video=videos/"fake_clip.mp4", real=videos/"real_clip.mp4", image=image, folder=folder)
    shutil.rmtree(d, ignore_errors=True)


def _json(path):
    return json.loads(Path(path).read_text())


def test_video_image_folder_to_json_and_csv(media, tmp_path):
    args = [str(media["video"]), str(media["image"]), str(media["folder"]), "--checkpoint", str(media["ckpt"]), "--quiet"]
    assert cli_main(["detect", *args, "--out", str(tmp_path/"r.json")]) == EXIT_OK     # registered in the CLI
    j = _json(tmp_path/"r.json")
    assert j["training_data"] == "trained on synthetic data (syn-toy)" and j["synthetic"] is True
    assert j["input_size"] == 32 and j["every"] == 10 and j["checkpoint"] == str(media["ckpt"])
    rows = {Path(r["path"]).name: r for r in j["files"]}
    assert set(rows) == {media["video"].name, "face.png", "fake.mp4", "face.jpg.png"}      # README.txt is not media
    assert all(r["status"] == "scored" and 0 <= r["fake_probability"] <= 1 and r["problem"] == "" for r in rows.values())
    assert (rows[media["video"].name]["frames_sampled"], rows[media["video"].name]["frames_scored"]) == (2, 2)  # 20 frames, 1 in 10
    assert (rows["face.png"]["kind"], rows["face.png"]["frames_sampled"], rows["face.png"]["frames_scored"]) == ("image", 1, 1)
    assert rows["fake.mp4"]["fake_probability"] == pytest.approx(rows[media["video"].name]["fake_probability"], abs=1e-6)

    assert main([*args, "--every", "5", "--out", str(tmp_path/"r.csv")]) == EXIT_OK
    c = pd.read_csv(tmp_path/"r.csv", keep_default_na=False)
    assert len(c) == 4 and set(c.training_data) == {"trained on synthetic data (syn-toy)"}
    assert {"path", "kind", "status", "fake_probability", "frames_sampled", "frames_scored", "problem", "note", "checkpoint"} <= set(c.columns)
    assert c.set_index(c.path.map(lambda p: Path(p).name)).loc[media["video"].name, "frames_sampled"] == 4   # --every 5


def test_the_command_line_entry_point(media, tmp_path):
    r = subprocess.run([sys.executable, "-m", "bigarts.cli", "detect", str(media["real"]), str(tmp_path/"nope.mp4"),
                        "--checkpoint", str(media["ckpt"])], capture_output=True, text=True, timeout=120)
    assert r.returncode == EXIT_SOME_FAILED, r.stderr
    assert "trained on synthetic data (syn-toy)" in r.stdout.splitlines()[0]
    assert "nope.mp4  [no such file or folder]" in r.stdout and "1 of 2 scored" in r.stdout
    assert "detect" in r.stderr                                                      # the tqdm bar


BAD = {  # file name: (bytes or how to make it, the problem reported)
    "empty.mp4": (b"", "zero-byte file"),
    "corrupt.mp4": (b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8, "cannot be opened as a video"),
    "unreadable.png": (b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "cannot be read as an image"),
    "noface.png": ("grey", "no face found"),
}


def test_every_bad_input_has_its_own_row_and_the_rest_is_scored(media, tmp_path):
    for name, (content, _) in BAD.items():
        if content == "grey": cv2.imwrite(str(tmp_path/name), np.full((200, 260, 3), 120, np.uint8))
        else: (tmp_path/name).write_bytes(content)
    (tmp_path/"empty_dir").mkdir()
    (tmp_path/"text_only").mkdir(); (tmp_path/"text_only"/"a.txt").write_text("x")
    paths = [tmp_path/n for n in BAD] + [media["video"], tmp_path/"does_not_exist.mp4", tmp_path/"empty_dir", tmp_path/"text_only"]
    out = tmp_path/"r.json"
    assert main([*map(str, paths), "--checkpoint", str(media["ckpt"]), "--out", str(out), "--quiet"]) == EXIT_SOME_FAILED
    rows = {Path(r["path"]).name: r for r in _json(out)["files"]}
    assert len(rows) == len(paths)                                                   # nothing dropped
    for name, (_, problem) in BAD.items():
        assert rows[name]["status"] == "failed" and rows[name]["fake_probability"] is None
        assert rows[name]["problem"].startswith(problem), (name, rows[name]["problem"])
    assert rows["noface.png"]["frames_sampled"] == 1 and rows["noface.png"]["frames_scored"] == 0
    assert rows["does_not_exist.mp4"]["problem"] == "no such file or folder"
    assert rows["empty_dir"]["problem"].startswith("folder holds no video or image file")
    assert rows["text_only"]["problem"].startswith("folder holds no video or image file")
    assert rows[media["video"].name]["status"] == "scored"


def test_a_video_whose_frames_have_no_face(media, tmp_path):
    from bigarts.video import write_video
    write_video(tmp_path/"noface.mp4", [np.full((96, 128, 3), c, np.uint8) for c in range(60, 90)], fps=10)
    assert main([str(tmp_path/"noface.mp4"), "--checkpoint", str(media["ckpt"]), "--out", str(tmp_path/"r.json"), "--quiet"]) == EXIT_SOME_FAILED
    r = _json(tmp_path/"r.json")["files"][0]
    assert r["problem"] == "no face found in any of the 3 sampled frames" and r["frames_sampled"] == 3


def test_unusable_checkpoints_are_usage_errors_with_the_loaders_message(media, tmp_path, capsys):
    ck = read_checkpoint(media["dir"]/"run"/LAST)
    torch.save({**ck, "arch": {"encoder": "resnet50", "branches": ["in", "ex"]}}, tmp_path/"arch.pt")   # another architecture
    torch.save({**ck, "version": 99}, tmp_path/"v99.pt")
    torch.save(ck["model"], tmp_path/"weights.pt")
    (tmp_path/"cut.safetensors").write_bytes(media["ckpt"].read_bytes()[:100_000])                      # a truncated download
    (tmp_path/"cut.pt").write_bytes((media["dir"]/"run"/LAST).read_bytes()[:100_000])
    for name, msg in [("arch.pt", "do not fit architecture"), ("v99.pt", "checkpoint version 99; this bigarts reads version 1, 2"),
                      ("weights.pt", "not a BiG-Arts checkpoint"), ("missing.pt", "No checkpoint at"),
                      ("cut.safetensors", "not a readable safetensors file (truncated or damaged?)"),
                      ("cut.pt", "not a readable checkpoint (truncated or damaged?)")]:
        assert main([str(media["video"]), "--checkpoint", str(tmp_path/name), "--quiet"]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert msg in err and name in err and len(err.strip().splitlines()) == 1, err
    assert main([str(media["video"]), "--checkpoint", str(media["ckpt"]), "--out", str(tmp_path/"r.txt")]) == EXIT_USAGE
    assert ".json or .csv" in capsys.readouterr().err


EVIL = """
import os, pickle, sys, torch
class Evil:                                   # unpickling it runs a shell command
    def __reduce__(self): return (os.system, ("touch " + sys.argv[2],))
torch.save({"format": "bigarts-checkpoint", "version": 2, "model": Evil()}, sys.argv[1])   # as torch.save writes (zip)
with open(sys.argv[1] + ".pkl", "wb") as f: pickle.dump(Evil(), f)                        # and as a bare pickle
"""


def test_a_crafted_checkpoint_is_refused_before_its_code_runs(media, tmp_path):
    "detect, evaluate, convert and a resumed training refuse a pickle that would run a command; the command never runs."
    pwned, evil = tmp_path/"pwned", tmp_path/"evil.pt"
    subprocess.run([sys.executable, "-c", EVIL, str(evil), str(pwned)], check=True, timeout=120)
    (tmp_path/"index.csv").write_text("video_id,dataset,split,label\n")
    (tmp_path/"run").mkdir(); shutil.copy(evil, tmp_path/"run"/LAST)
    runs = [(["detect", str(media["image"]), "--checkpoint", str(evil)], 2),
            (["detect", str(media["image"]), "--checkpoint", f"{evil}.pkl"], 2),
            (["evaluate", "--checkpoint", str(evil), "--cache", str(media["dir"]/"cache"), "--index", str(tmp_path/"index.csv"),
              "--out", str(tmp_path/"ev")], 2),
            (["convert", str(evil), str(tmp_path/"evil.safetensors")], 2),
            (["train", "--cache", str(media["dir"]/"cache"), "--out", str(tmp_path/"run"), "--resume", "--set", "workers=0",
              "--set", "without_validation=true"], 1)]
    for cmd, code in runs:
        r = subprocess.run([sys.executable, "-m", "bigarts.cli", *cmd], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert r.returncode == code, (cmd, r.stderr)
        assert "refused, not loaded: " in r.stderr and ("evil.pt" in r.stderr or LAST in r.stderr), (cmd, r.stderr)
        assert "it names posix.system" in r.stderr or ".pkl" in cmd[-1], (cmd, r.stderr)   # a bare pickle: its opcode is named
        assert not pwned.exists(), cmd
    assert not (tmp_path/"evil.safetensors").exists() and not (tmp_path/"ev").exists()


def test_the_digest_is_printed_written_and_checked(media, tmp_path, capsys):
    sha = load_checkpoint(media["ckpt"])[1]["sha256"]
    assert main([str(media["image"]), "--checkpoint", str(media["ckpt"]), "--sha256", sha.upper(), "--out", str(tmp_path/"r.csv")]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(f"sha256 {sha} — BiG-Arts (both), 32² input, trained on synthetic data (syn-toy), step 1")
    assert set(pd.read_csv(tmp_path/"r.csv").checkpoint_sha256) == {sha}
    assert main([str(media["image"]), "--checkpoint", str(media["ckpt"]), "--sha256", "ab" * 32, "--quiet"]) == EXIT_USAGE
    assert f"its SHA-256 is {sha}, not the expected {'ab' * 32}" in capsys.readouterr().err


def test_a_model_file_scores_as_the_checkpoint_it_came_from(media, tmp_path):
    """train → model file → detect: the same scores from the model file as from the resume point of the same step, and as from
    the pickled best checkpoint earlier versions of the kit wrote (version 1), loaded safely and converted by `bigarts convert`."""
    ck = read_checkpoint(media["dir"]/"run"/LAST)
    assert ck["step"] == ck["best_step"] == 1                                        # one step, one validation: best = last
    old = {k: ck[k] for k in ("format", "arch", "config", "model", "step", "best_step", "loss")}
    old.update(version=1, torch_version=torch.__version__, val_auc=np.float64(ck["val_auc"]), best_auc=np.float64(ck["best_auc"]))
    torch.save(old, tmp_path/"old.pt")                                              # as the kit wrote checkpoint_best.pt before
    assert cli_main(["convert", str(tmp_path/"old.pt"), str(tmp_path/"old.safetensors")]) == 0
    scores = {}
    for name, path in [("model file", media["ckpt"]), ("resume point", media["dir"]/"run"/LAST),
                       ("version 1", tmp_path/"old.pt"), ("converted", tmp_path/"old.safetensors")]:
        assert main([str(media["video"]), str(media["image"]), "--checkpoint", str(path), "--out", str(tmp_path/"s.json"), "--quiet"]) == EXIT_OK
        scores[name] = [r["fake_probability"] for r in _json(tmp_path/"s.json")["files"]]
    assert len(set(map(tuple, scores.values()))) == 1, scores


def test_default_checkpoint_and_its_training_data_label(media, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([str(media["video"]), "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--checkpoint" in err and "make demo" in err
    # the demo layout: a DVC repository whose train stage wrote models/both/checkpoint_best.safetensors from data/faces
    model, meta = load_checkpoint(media["ckpt"])                                   # as an older kit wrote it: no training
    save_model_file(tmp_path/"models/both/checkpoint_best.safetensors", model,      # record, and config datasets None,
                    {**meta["config"], "datasets": None}, {"step": meta["step"]})   # "all the datasets of its cache"
    (tmp_path/"data/faces").mkdir(parents=True)
    pd.DataFrame(dict(dataset=["syn-celebdf", "syn-ffpp", "syn-dfd"], split=["train", "val", "test"])).to_csv(tmp_path/"data/faces/manifest.csv", index=False)
    (tmp_path/"dvc.lock").write_text("schema: '2.0'\nstages:\n  train@both:\n    deps:\n    - path: data/faces\n"
                                     "    outs:\n    - path: models/both/checkpoint_best.safetensors\n")
    assert main([str(media["image"]), "--out", "r.json"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "checkpoint models/both/checkpoint_best.safetensors — trained on synthetic data (syn-celebdf, syn-ffpp)"
    j = _json(tmp_path/"r.json")
    assert j["checkpoint"] == "models/both/checkpoint_best.safetensors" and j["synthetic"] is True
    (tmp_path/"dvc.lock").unlink()                                                  # no record of its data
    assert main([str(media["image"]), "--out", "r.json", "--quiet"]) == EXIT_OK
    assert _json(tmp_path/"r.json")["training_data"] == "training data: unknown"


def test_explain_writes_a_png_per_image_and_png_plus_mp4_per_video(media, tmp_path):
    ex = tmp_path/"explain"
    (tmp_path/"other").mkdir(); shutil.copy(media["image"], tmp_path/"other"/"face.png")     # same name, another folder
    assert main([str(media["video"]), str(media["image"]), str(media["folder"]), str(tmp_path/"other"), "--checkpoint", str(media["ckpt"]),
                 "--explain", str(ex), "--out", str(tmp_path/"r.json"), "--quiet"]) == EXIT_OK
    names = sorted(p.name for p in ex.iterdir())
    v, f = media["video"].name, "fake.mp4"
    assert names == sorted([f"{v}.png", f"{v}.mp4", "face.png.png", f"{f}.png", f"{f}.mp4", "face.jpg.png.png", "face-2.png.png"])
    png = cv2.imread(str(ex/f"{v}.png"))
    assert png.shape == (22 + 256 + 22, 4 * 256, 3) and png.std() > 10
    assert sum(1 for _ in VideoReader(ex/f"{v}.mp4")) == 2                          # one panel per scored frame
    rows = {r["path"]: r for r in _json(tmp_path/"r.json")["files"]}
    assert rows[str(media["image"])]["explanation"] == str(ex/"face.png.png")
    assert rows[str(media["video"])]["explanation"] == f"{ex/v}.png;{ex/v}.mp4"
