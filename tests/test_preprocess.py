"""Preprocessing on a bad-input corpus: nothing crashes, every video is accounted for, fakes share their source's boxes,
a rerun after a kill redoes only what was unfinished, and shards add up to the whole."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from bigarts.cache import FaceCache
from bigarts.cli import main as cli
from bigarts.preprocess import preprocess
from bigarts.video import write_video

from clips import FACE, HOPPER, frames


BOX = ["x0", "y0", "x1", "y1"]


def manifest(c: FaceCache) -> pd.DataFrame:
    "The manifest with numeric boxes (05_cache reads '' as a string where a frame has no face)."
    m = c.manifest
    return m.assign(**{k: pd.to_numeric(m[k].replace("", np.nan)) for k in BOX})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    vids = {}
    vids["real"] = write_video(d/"real.mp4", frames())
    vids["fake"] = write_video(d/"fake.mp4", frames(tint=40))
    odd = d/"dir with space"/"vidéo ünï.mp4"
    vids["odd_path"] = write_video(odd, frames())
    vids["truncated"] = d/"truncated.mp4"; vids["truncated"].write_bytes(vids["real"].read_bytes()[:3000])
    vids["zero"] = d/"zero.mp4"; vids["zero"].write_bytes(b"")
    vids["text"] = d/"text.mp4"; vids["text"].write_text("I am not a video")
    vids["tiny"] = write_video(d/"tiny.avi", [np.zeros((1, 1, 3), np.uint8)] * 4, codec="ffv1")
    vids["gray"] = write_video(d/"gray.mp4", [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames()])
    vids["noface"] = write_video(d/"noface.mp4", [np.full((240, 320, 3), 30 * i % 255, np.uint8) for i in range(8)])
    vids["two_faces"] = write_video(d/"two.mp4", frames(faces=((10, HOPPER), (140, cv2.resize(FACE, (120, 130))))))
    fold = d/"seq"; fold.mkdir()
    for i, f in enumerate(frames()):      # a frame folder whose frames change size half-way
        cv2.imwrite(str(fold/f"{i}.png"), cv2.cvtColor(f if i < 4 else cv2.resize(f, (160, 120)), cv2.COLOR_RGB2BGR))
    vids["size_change"] = fold
    idx = pd.DataFrame(dict(video_id=[f"bad/{k}" for k in vids], dataset="bad", split="test", label=[int(k == "fake") for k in vids],
                            source_id=["bad/real" if k == "fake" else "" for k in vids], identity=list(vids), path=[str(p) for p in vids.values()]))
    idx.attrs["problems"] = [(str(d/"listed_but_missing.mp4"), "listed in split.csv but not on disk")]
    return idx


@pytest.fixture(scope="module")
def cache(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache")
    preprocess(corpus, out, every=3, progress=False, device="cpu")
    return FaceCache(out)


def test_every_video_accounted_for(corpus, cache):
    man, fails = manifest(cache), cache.failures
    assert set(corpus.video_id) <= set(man.video_id) | set(fails.video_id)
    assert "listed_but_missing.mp4" in " ".join(fails.path)
    reason = fails.groupby("video_id").reason.apply(" ".join)
    assert "zero-byte" in reason["bad/zero"] and "zero.mp4" in reason["bad/zero"]
    assert "cannot be opened" in reason["bad/text"] and "cannot be opened" in reason["bad/truncated"]
    assert "no face detected in any of the 3 sampled frames" in reason["bad/noface"]
    assert "no face" in reason["bad/tiny"] or "unreadable" in reason["bad/tiny"]
    assert "differs from the first frame" in reason["bad/size_change"]
    assert set(man.video_id[man.status == "ok"]) == {"bad/real", "bad/fake", "bad/odd_path", "bad/gray", "bad/two_faces", "bad/size_change"}


def test_crops_landmarks_and_shared_boxes(cache):
    man = manifest(cache)
    r, f = (man[man.video_id == v].set_index("frame")[["x0", "y0", "x1", "y1"]] for v in ("bad/real", "bad/fake"))
    pd.testing.assert_frame_equal(r, f)
    assert cache.image("bad/real", 3).shape == (256, 256, 3)
    d = np.abs(cache.image("bad/fake", 3).astype(int) - cache.image("bad/real", 3)).max(-1)
    assert d[:24, :24].mean() < 5 and d[108:148, 108:148].mean() > 25    # |x' − x|: the forged centre, clean corners
    lm = cache.landmarks("bad/real")
    assert len(lm) == 3 and all(v.shape == (68, 2) for v in lm.values())
    assert len(cache.landmarks("bad/gray")) == 3


def test_largest_face_is_followed(cache):
    man = manifest(cache).query("video_id == 'bad/two_faces'")
    assert (man.x0 > 120).all()      # the larger astronaut (right) in every frame, never the smaller face on the left


def test_resume_redoes_only_unfinished(corpus, cache, tmp_path):
    out = tmp_path/"c"; shutil.copytree(cache.root, out)
    c = FaceCache(out)
    keep = (c.video_dir("bad/real")/"000000.png").stat().st_mtime_ns
    (c.video_dir("bad/fake")/"rows.csv").unlink()                # as if killed while writing the fake
    preprocess(corpus, out, every=3, progress=False, device="cpu")
    assert (c.video_dir("bad/real")/"000000.png").stat().st_mtime_ns == keep
    pd.testing.assert_frame_equal(manifest(c), manifest(cache))
    pd.testing.assert_frame_equal(c.failures.sort_values(["video_id", "reason"], ignore_index=True),
                                  cache.failures.sort_values(["video_id", "reason"], ignore_index=True))


@pytest.mark.slow
def test_shards_add_up(corpus, cache, tmp_path):
    sub = corpus[corpus.video_id.isin(["bad/real", "bad/fake", "bad/gray", "bad/zero"])]
    for i in range(2): preprocess(sub, tmp_path, every=3, shard=(i, 2), progress=False, device="cpu")
    whole = manifest(cache).query("video_id in @sub.video_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(manifest(FaceCache(tmp_path)), whole)


def test_cli(tmp_path, capsys):
    root = tmp_path/"syn-mini"
    write_video(root/"videos/r0.mp4", frames(4)); write_video(root/"videos/f0.mp4", frames(4, tint=40))
    pd.DataFrame([("r0", 0, "train", "", "a"), ("f0", 1, "train", "r0", "a")], columns=["name", "label", "split", "source", "identity"]).to_csv(root/"split.csv", index=False)
    assert cli(["preprocess", "--dataset", "own", "--root", str(root), "--out", str(tmp_path/"cache"), "--every", "2", "--quiet"]) == 0
    man = FaceCache(tmp_path/"cache").manifest
    assert set(man.video_id) == {"syn-mini/r0", "syn-mini/f0"} and len(man) == 4 and (man.status == "ok").all()
    assert "2 videos, 4 sampled frames" in capsys.readouterr().out
    assert cli(["preprocess", "--dataset", "celebdf", "--root", str(tmp_path/"missing"), "--out", str(tmp_path/"c2")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit): cli(["preprocess", "--dataset", "own", "--root", str(root), "--out", str(tmp_path/"c3"), "--shard", "2/2"])
