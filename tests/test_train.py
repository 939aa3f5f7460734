"""Trainer behaviour that does not live well in a notebook: exact resume, DDP on the CPU, NaN stop, bad checkpoints."""
import json, math, os, socket

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.utils.data import Dataset

from bigarts.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from bigarts.toy import toy_cache
from bigarts.train import TrainConfig, main, train


class Forgeries(Dataset):
    "Constructed items with the ForgeryDataset / FrameDataset contracts: noise textures, fakes with an up-sampled patch."
    def __init__(self, n=8, size=32, frames=1, seed=0, nan_after=None):
        self.n, self.size, self.frames, self.seed, self.nan_after, self.calls = n, size, frames, seed, nan_after, 0
    def __len__(self): return self.n * self.frames
    def __getitem__(self, i):
        self.calls += 1
        v, f = divmod(i, self.frames); S = self.size
        g = torch.Generator().manual_seed(self.seed * 1000 + i)
        img = F.interpolate(torch.rand(1, 3, S // 4, S // 4, generator=g), size=S, mode="bilinear")[0]
        m_in, label = torch.zeros(1, S, S), float(v % 2)
        if label: m_in[:, S // 4: 3 * S // 4, S // 4: 3 * S // 4] = 1; img = img * (1 - m_in) + m_in * img.mean()
        m_ex = (F.max_pool2d(m_in[None], 3, 1, 1) + F.max_pool2d(-m_in[None], 3, 1, 1))[0]
        if self.nan_after is not None and self.calls > self.nan_after: img = img * float("nan")
        return {"image": img, "m_in": m_in, "m_ex": m_ex, "label": torch.tensor(label), "kind": int(label),
                "video_id": f"toy/{v:03d}", "frame": f}


TINY = dict(size=32, batch_size=2, epoch_length=2, val_every=2, log_every=1, workers=0, progress=False)


def _run(out, resume=False, **kw):
    return train(TrainConfig(**{**TINY, **kw}), out_dir=out, train_set=Forgeries(), val_set=Forgeries(4, frames=2, seed=1),
                 resume=resume)


def _states(path):
    c = read_checkpoint(path)
    return c["model"], c["optimizer"]["state"], c["scheduler"], c["step"]


def test_resume_equals_uninterrupted(tmp_path):
    _run(tmp_path/"a", epochs=2)                               # 4 steps in one go
    _run(tmp_path/"b", epochs=1)                               # 2 steps, "interrupted" ...
    _run(tmp_path/"b", resume=True, epochs=2)                  # ... and resumed for 2 more
    ma, oa, sa, na = _states(tmp_path/"a"/"checkpoint_last.pt")
    mb, ob, sb, nb = _states(tmp_path/"b"/"checkpoint_last.pt")
    assert na == nb == 4 and sa == sb
    assert all(torch.equal(ma[k], mb[k]) for k in ma), "model weights differ after resume"
    assert all(torch.equal(oa[i][k], ob[i][k]) for i in oa for k in oa[i] if torch.is_tensor(oa[i][k]))
    la = (tmp_path/"a"/"dvclive/plots/metrics/train/loss.tsv").read_text().splitlines()
    lb = (tmp_path/"b"/"dvclive/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert len(la) == len(lb) == 5                              # header + 4 steps, no duplicates after resume


def test_resume_with_other_settings_names_them(tmp_path):
    _run(tmp_path, epochs=1)
    with pytest.raises(ValueError, match=r"variant: checkpoint 'both' ≠ now 'ex'; lr: checkpoint 0.001 ≠ now 0.01"):
        _run(tmp_path, resume=True, epochs=2, variant="ex", lr=0.01)
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        _run(tmp_path/"empty", resume=True)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = TrainConfig(**{**TINY, "epochs": 3})
    bad = Forgeries(nan_after=2 * 2)                            # steps 1–2 fine, step 3 sees NaN images
    with pytest.raises(FloatingPointError, match="Non-finite loss at step 3.*last good state \\(step 2\\)"):
        train(cfg, out_dir=tmp_path, train_set=bad, val_set=Forgeries(4, seed=1))
    model, meta = load_checkpoint(tmp_path/"checkpoint_last.pt")
    assert meta["step"] == 2
    assert all(torch.isfinite(p).all() for p in model.state_dict().values() if p.is_floating_point())


def test_bad_checkpoints_are_refused_with_the_reason(tmp_path):
    _run(tmp_path, epochs=1)
    ck = read_checkpoint(tmp_path/"checkpoint_last.pt")
    torch.save({**ck, "arch": {"encoder": "resnet50", "branches": ["in", "ex"]}}, tmp_path/"arch.pt")
    with pytest.raises(CheckpointError, match="do not fit architecture .*resnet50"):
        load_checkpoint(tmp_path/"arch.pt")
    torch.save({**ck, "version": 3}, tmp_path/"v3.pt")
    with pytest.raises(CheckpointError, match="checkpoint version 3; this bigarts reads version 1, 2 of bigarts-checkpoint"):
        load_checkpoint(tmp_path/"v3.pt")
    torch.save(ck["model"], tmp_path/"weights_only.pt")
    with pytest.raises(CheckpointError, match="not a BiG-Arts checkpoint"):
        load_checkpoint(tmp_path/"weights_only.pt")
    (tmp_path/"garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pt: neither a safetensors model file nor a PyTorch checkpoint"):
        load_checkpoint(tmp_path/"garbage.pt")


def test_a_validation_split_that_cannot_select_stops_before_training(tmp_path):
    "Empty, or one class only: a clear stop naming the datasets — or, with without_validation, the last step, said so."
    toy_cache(tmp_path/"cache", identities=3, frames=2, size=64, split="train", dataset="toytr")
    c = toy_cache(tmp_path/"cache", identities=2, frames=2, size=64, split="val", dataset="toyva", fakes=False)
    c.finalize()
    cfg = dict(TINY, size=64, epochs=1)
    with pytest.raises(ValueError, match=r"the validation split holds no frames \(datasets: toytr\).*without_validation=true"):
        train(TrainConfig(**cfg, datasets=["toytr"]), cache_dir=tmp_path/"cache", out_dir=tmp_path/"a")
    with pytest.raises(ValueError, match=r"holds only real videos \(datasets: toytr, toyva\)"):
        train(TrainConfig(**cfg), cache_dir=tmp_path/"cache", out_dir=tmp_path/"b")
    assert not (tmp_path/"a").exists() and not (tmp_path/"b").exists()            # stopped before any work
    m = train(TrainConfig(**cfg, without_validation=True), cache_dir=tmp_path/"cache", out_dir=tmp_path/"c")
    saved = json.loads((tmp_path/"c"/"train_metrics.json").read_text())
    assert m["selected_on"] == saved["selected_on"] == "the last step (the validation split holds only real videos)"
    assert saved["best_step"] == saved["steps"] == 2 and math.isnan(saved["best_val_auc"])
    assert load_checkpoint(tmp_path/"c"/"checkpoint_best.safetensors")[1]["training"]["selected_on"].startswith("the last step")


def test_outputs_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                                 # DVCLive must work outside git/DVC too
    m = _run(tmp_path/"run", epochs=1)
    assert (tmp_path/"run"/"checkpoint_best.safetensors").exists() and (tmp_path/"run"/"dvclive"/"dvc.yaml").exists()
    saved = json.loads((tmp_path/"run"/"train_metrics.json").read_text())
    assert saved["steps"] == m["steps"] == 2 and 0 <= saved["best_val_auc"] <= 1
    assert not (tmp_path/".git").exists() and not (tmp_path/"dvc.yaml").exists()


def test_cli_reports_bad_input(tmp_path, capsys):
    p = tmp_path/"params.yaml"
    p.write_text("profile: demo\ntrain:\n  demo: {size: 32, batch_size: 2, recipes: shared}\n  paper: {}\n")
    assert main(["--cache", str(tmp_path/"nocache"), "--out", str(tmp_path/"o"), "--params", str(p), "--set", "workers=0"]) == 1
    assert "manifest.csv not found" in capsys.readouterr().err
    assert main(["--cache", "c", "--out", "o", "--params", str(p), "--set", "sise=64"]) == 2
    assert "Did you mean 'size'" in capsys.readouterr().err


def _ddp_worker(rank, world, port, out, results):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    m = train(TrainConfig(**{**TINY, "batch_size": 4, "epochs": 1, "device": "cpu"}), out_dir=out, train_set=Forgeries(),
              val_set=Forgeries(5, frames=1, seed=1))
    results[rank] = m


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_gloo_processes(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path), results), nprocs=2, join=True)
    r0, r1 = results[0], results[1]
    assert r0["world_size"] == r1["world_size"] == 2
    assert r0["final_loss"] == r1["final_loss"]                 # all-reduced across processes
    assert r0["last_val_auc"] == r1["last_val_auc"] and not math.isnan(r0["last_val_auc"])   # scores gathered from both
    assert read_checkpoint(tmp_path/"checkpoint_last.pt")["step"] == 2


def test_cli_trains_on_a_face_cache_with_the_real_pipeline(tmp_path):
    c = toy_cache(tmp_path/"cache", identities=4, frames=2, size=64, split="train", dataset="toytr")
    toy_cache(tmp_path/"cache", identities=2, frames=2, size=64, split="val", dataset="toyva")
    c.finalize()
    p = tmp_path/"params.yaml"
    p.write_text("profile: demo\ntrain:\n  demo: {size: 64, batch_size: 4, epochs: 1, epoch_length: 2, val_every: 2, workers: 1, recipes: shared}\n  paper: {}\n")
    assert main(["--cache", str(tmp_path/"cache"), "--out", str(tmp_path/"out"), "--params", str(p), "--set", "progress=false"]) == 0
    m = json.loads((tmp_path/"out"/"train_metrics.json").read_text())
    assert m["steps"] == 2 and m["images"] == 8 and 0 <= m["best_val_auc"] <= 1
    model, meta = load_checkpoint(tmp_path/"out"/"checkpoint_best.safetensors")
    assert meta["arch"] == {"method": "bigarts", "encoder": "resnet18", "branches": ["in", "ex"]} and meta["config"]["size"] == 64
