"""ForgeryDataset / FrameDataset behaviour that does not live well in a notebook: the trainer's loader with workers, pickling, epochs, resume."""
import multiprocessing as mp
import pickle
from itertools import islice

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

import bigarts.train as T
from bigarts.toy import toy_cache, toy_frame
from bigarts.cache import FaceCache
from bigarts.train import TrainConfig, make_loader, worker_context
from bigarts.trainset import ForgeryDataset, FrameDataset

# Workers start from the forkserver, as the trainer's do: forking the pytest process after earlier tests
# have run OpenCV/OpenMP/gloo threads can deadlock a worker (seen here), which says nothing about the dataset.
WORKERS = dict(num_workers=2, multiprocessing_context=worker_context(2))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return toy_cache(tmp_path_factory.mktemp("toy"), identities=3, videos=1, frames=4)


def _batches(ds, start, steps, workers=0):
    "`steps` batches of the trainer's loader (bigarts.train.make_loader) from step `start` (epoch e of L steps starts at e·L)."
    cfg = TrainConfig(batch_size=ds.batch_size, workers=workers, progress=False)
    return list(islice(make_loader(ds, cfg, start), steps))


def _same(b0, b1):
    assert len(b0) == len(b1)
    for x, y in zip(b0, b1):
        for k in ("image", "m_in", "m_ex", "label", "kind"): torch.testing.assert_close(x[k], y[k], rtol=0, atol=0)


def test_workers_give_the_same_batches(cache):
    ds = ForgeryDataset(cache, batch_size=8, seed=3)
    _same(_batches(ds, 4, 2), _batches(ds, 4, 2, workers=2))


def test_epochs_draw_fresh_samples_and_a_resume_gives_the_same_batches(cache):
    "One run of two epochs with persistent workers = each epoch's loader started at its first step (a resume); epochs differ."
    ds = ForgeryDataset(cache, batch_size=8, seed=3)
    both = _batches(ds, 0, 4, workers=2)                         # epochs of 2 steps: epochs 0 and 1 in one go
    _same(both[:2], _batches(ds, 0, 2)); _same(both[2:], _batches(ds, 2, 2))
    _same(both[3:], _batches(ds, 3, 1))                          # resumed mid-epoch, at step 3
    assert any((a["image"] != b["image"]).any() for a, b in zip(both[:2], both[2:]))
    torch.testing.assert_close(both[2]["image"][0], ds[16]["image"], rtol=0, atol=0)   # step s is items s·B … s·B + B − 1


def test_every_batch_has_the_paper_composition(cache):
    ds = ForgeryDataset(cache, batch_size=12, seed=0)
    for start in (0, 20):                                        # epochs 0 and 5 of 4 steps
        for b in _batches(ds, start, 4):
            assert b["kind"].bincount(minlength=4).tolist() == [6, 2, 2, 2]
            assert (b["label"] == (b["kind"] > 0).float()).all()


def test_length_is_one_nominal_pass(cache):
    ds = ForgeryDataset(cache, batch_size=5, seed=0)
    assert ds.n_frames == 24 and len(ds) == 25                   # 3 identities × 2 videos × 4 frames, whole batches of 5
    assert ds[1000]["image"].shape == (3, 256, 256)              # the stream goes on past len(ds)


def test_pickled_dataset_gives_the_same_samples(cache):
    ds = ForgeryDataset(cache, batch_size=8, seed=1)
    _ = [ds[i] for i in range(8)]                         # fill the memos first
    twin = pickle.loads(pickle.dumps(ds))
    for i in (0, 5, 17):
        torch.testing.assert_close(twin[i]["image"], ds[i]["image"], rtol=0, atol=0)


@pytest.mark.slow
def test_spawned_workers_give_the_same_batches(cache, monkeypatch):
    ds = ForgeryDataset(cache, batch_size=8, seed=2)
    monkeypatch.setattr(T, "worker_context", lambda workers: mp.get_context("spawn") if workers else None)
    _same(_batches(ds, 2, 2), _batches(ds, 2, 2, workers=2))


def test_ablation_ratios_are_respected(cache):
    only_rr = ForgeryDataset(cache, batch_size=8, fake_kinds={"real_real": 1.0})
    assert {only_rr[i]["kind"] for i in range(16)} == {0, 2}
    no_real = ForgeryDataset(cache, batch_size=8, real_ratio=0.0)
    assert all(no_real[i]["label"] == 1 for i in range(8))


def test_broken_landmarks_never_crash(tmp_path):
    c = FaceCache(tmp_path)
    rows = lambda vid, label, src, ident, n: pd.DataFrame(dict(video_id=vid, dataset="t", split="train", label=label, source_id=src,
                                                               identity=ident, frame=range(n), x0=0.0, y0=0.0, x1=256.0, y1=256.0, crop="", status="ok"))
    shots = [toy_frame(0, t/3) for t in range(3)]
    bad = {0: np.zeros((68, 2), np.float32), 1: np.stack([np.arange(68)]*2, 1).astype(np.float32)}   # collapsed, collinear
    c.write_video("t/a", rows("t/a", 0, "", "a", 3), {f: s[0] for f, s in enumerate(shots)}, {**bad, 2: shots[2][1]})
    other = [toy_frame(1, t/3) for t in range(3)]
    c.write_video("t/b", rows("t/b", 0, "", "b", 3), {f: s[0] for f, s in enumerate(other)}, {})
    c.write_video("t/f", rows("t/f", 1, "t/a", "a", 3), {f: s[0][::-1].copy() for f, s in enumerate(shots)}, bad)
    c.finalize()
    with pytest.warns(UserWarning, match="no 'fake_real' sample"): ds = ForgeryDataset(c, batch_size=8)
    assert ds.sources_rr.tolist() == [2] and len(ds.sources_fr) == 0
    kinds = [ds[i]["kind"] for i in range(32)]
    assert set(kinds) <= {0, 1, 2} and kinds.count(0) == 16


def test_frame_dataset_covers_the_split_in_order(cache):
    fd = FrameDataset(cache, "train", size=64)
    got = [b for b in DataLoader(fd, batch_size=5, **WORKERS)]
    vids = [v for b in got for v in b["video_id"]]; frames = torch.cat([b["frame"] for b in got]).tolist()
    assert list(zip(vids, frames)) == list(zip(fd.rows.video_id, fd.rows.frame))
    assert torch.cat([b["label"] for b in got]).tolist() == fd.rows.label.astype(float).tolist()


def test_classes_as_they_come(tmp_path):
    "real_ratio None (rows whose code shuffles one folder of both classes): batches hold the split's own share."
    toy_cache(tmp_path, identities=3, frames=4, dataset="a")
    cache = toy_cache(tmp_path, identities=2, frames=4, fakes=False, dataset="b")      # 20 real frames, 12 fake
    ds = ForgeryDataset(cache, batch_size=8, fake_kinds=(1, 0, 0), real_ratio=None, jpeg_quality=None)
    assert ds.real_ratio == 20 / 32
    kinds = np.array([ds.kind_of(i) for i in range(8 * 200)])
    assert abs((kinds == 0).mean() - 20 / 32) < 0.02 and set(kinds) == {0, 1}
    from bigarts.methods import recipe_settings
    for method, jpeg, share in (("capsule", None, 20 / 32), ("rfm", None, 0.5), ("face_xray", (75, 100), 0.5)):
        train_set, _ = T.default_datasets(tmp_path, TrainConfig(method=method, **recipe_settings(method, "shared")))
        assert train_set.jpeg_quality == jpeg and train_set.real_ratio == share, method
