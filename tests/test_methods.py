"""Every row of Tables 1–4 (bigarts.methods.METHODS): the common contract, training through the common trainer
step, and checkpoint round trips. Tiny batches at 64² so the whole file stays well under 90 s on 2 cores."""
import pytest
import torch
import torch.nn.functional as F

from bigarts.methods import METHODS, PAPER_ROW, build_method
from bigarts.checkpoint import load_checkpoint, save_model_file, save_resume_point
from bigarts.train import TrainConfig, build_model, objective, train_step

NAMES = list(METHODS)


def batch(n=4, size=64, seed=0):
    "Reals are smooth noise, fakes carry a nearest-up-sampled square (with its M_in / M_ex)."
    g = torch.Generator().manual_seed(seed)
    img = F.interpolate(torch.rand(n, 3, size // 8, size // 8, generator=g), size=size, mode="bilinear")
    label = torch.arange(n) % 2
    m_in = torch.zeros(n, 1, size, size)
    m_in[label == 1, :, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
    patch = F.interpolate(torch.rand(n, 3, size // 16, size // 16, generator=g), size=size, mode="nearest")
    img = img * (1 - m_in) + patch * m_in
    m_ex = F.max_pool2d(m_in, 3, 1, 1) + F.max_pool2d(-m_in, 3, 1, 1)
    return {"image": img, "label": label.float(), "m_in": m_in, "m_ex": m_ex}


def seeded_loss(model, b, cfg, seed=0):
    "The trainer's loss of `model` (in train mode) on batch `b`, with the RNG (dropout, routing noise, erasing) seeded."
    torch.manual_seed(seed)
    return objective(model, cfg)(model(b["image"]), b)[0]


@pytest.mark.parametrize("name", NAMES)
def test_method(name, tmp_path):
    """One row: resume point and model file → load_checkpoint rebuilds the same network (class, arch, outputs); output shapes at
    256² and 64²; one Adam step of the trainer's train_step lowers the trainer's loss on a fixed batch."""
    torch.manual_seed(0)
    cfg = TrainConfig(method=name, size=64, batch_size=2)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.t_max)
    save_resume_point(tmp_path/"c.pt", model, opt, sched, cfg, {"step": 0})      # before any step: no Adam state to write
    save_model_file(tmp_path/"c.safetensors", model, cfg, {"step": 0})
    loaded, meta = load_checkpoint(tmp_path/"c.pt")
    shared, smeta = load_checkpoint(tmp_path/"c.safetensors")
    assert type(loaded) is type(model) and loaded.arch == model.arch == meta["arch"] and meta["arch"]["method"] == name
    assert type(shared) is type(model) and smeta["arch"] == model.arch

    model.eval()
    with torch.no_grad():
        big = (build_model(TrainConfig(method=name, size=256)).eval() if "size" in METHODS[name].reads else model)(
            torch.rand(1, 3, 256, 256))                    # a network built for one input size (GSRM) is built for 256²
        x = torch.rand(2, 3, 64, 64)
        small, again, shared_out = model(x), loaded(x), shared(x)
    assert small.keys() == again.keys() == shared_out.keys()
    assert all(torch.equal(small[k], again[k]) and torch.equal(small[k], shared_out[k]) for k in small)
    for n, size, out in ((1, 256, big), (2, 64, small)):
        assert out["cls"].shape == (n,) and out["cls"].dtype == torch.float32 and torch.isfinite(out["cls"]).all()
        for k in ("in", "ex"):
            if k in out: assert out[k].shape == (n, 1, size, size)

    b = batch(2)
    model.train()
    torch.manual_seed(0)                                   # the step's forward draws the same dropout / noise / erasing
    before, _ = train_step(model, b, opt, cfg, amp=False)  # ... as this re-evaluation after it
    with torch.no_grad(): after = seeded_loss(model, b, cfg)
    assert torch.isfinite(before) and after < before, (before.item(), after.item())


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Did you mean 'mesoinception4'.*Valid names: alexnet, vgg16, densenet121"):
        build_method("mesoinception")
    with pytest.raises(ValueError, match="Unknown method 'nope'"):
        TrainConfig(method="nope")


def test_paper_rows():
    assert PAPER_ROW["face_xray"] == "Face X-ray" and PAPER_ROW["bigarts"] == "BiG-Arts"


def test_capsule_trains_on_its_own_loss():
    model, b = build_method("capsule"), batch(2, 32)
    out = model.eval()(b["image"])
    loss, parts = objective(model, TrainConfig(method="capsule"))(out, b)
    assert set(parts) == {"capsule"} and loss.item() > 0
    assert objective(build_method("resnet18"), TrainConfig()).__name__ == "<lambda>"    # the others: Eq. (2)


def test_rfm_erases_only_while_training():
    torch.manual_seed(0)
    model, x = build_method("rfm"), batch(2)["image"]
    with torch.no_grad(): e1, e2 = model.eval()(x)["cls"], model.eval()(x)["cls"]
    assert torch.equal(e1, e2)                             # no erasing at test time
    seen = []
    hook = model.backbone.register_forward_pre_hook(lambda m, a: seen.append(a[0].detach().clone()))
    model.train()(x); hook.remove()
    # the FAM pass sees the cropped input (56² of 64², as 224² of 256²), the training pass the same crop erased
    assert len(seen) == 2 and seen[0].shape[-1] == 56 and not torch.equal(seen[1], seen[0])
    assert ((seen[1] == seen[0]).all(1) | (seen[1] != seen[0]).all(1)).all()            # whole pixels kept or erased


def test_one_base_one_package():
    """Every comparison network is a `ComparisonNet` from the package `bigarts.methods` (BiG-Arts' rows are `BiGArts`, from
    `bigarts.model`); the old flat modules are gone; BiG-Arts and the comparison networks share one input check."""
    import importlib.util
    from bigarts.methods import ComparisonNet
    from bigarts.model import BiGArts
    for name in NAMES:
        model = build_method(name)
        if isinstance(model, BiGArts): assert name in ("bigarts", "face_xray")
        else: assert isinstance(model, ComparisonNet) and type(model).__module__.startswith("bigarts.methods"), name
    for old in ("xception", "mesonet", "capsule", "gsrm", "rfm"):
        assert importlib.util.find_spec(f"bigarts.{old}") is None and importlib.util.find_spec(f"bigarts.methods.{old}")
    x = torch.zeros(1, 3, 64, 64, dtype=torch.uint8)
    for model in (build_method("resnet18"), build_method("bigarts")):
        with pytest.raises(ValueError, match="expects a float image in \\[0, 1\\].*divide uint8 images by 255"): model(x)
