"""benchmarks/broken_supervision.py breaks what it says it breaks: the M_in targets, rolled across the batch, and nothing else."""
import importlib.util
from pathlib import Path

import torch

from bigarts.model import bigarts_loss

spec = importlib.util.spec_from_file_location("broken_supervision", Path(__file__).parents[1] / "benchmarks/broken_supervision.py")
bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench)


def test_the_broken_objective_gives_each_face_another_faces_m_in_target():
    seen = {}
    def objective(model, cfg):
        def f(out, batch): seen.update(batch); return bigarts_loss(out, batch)
        return f
    g = torch.Generator().manual_seed(0)
    batch = {"label": torch.tensor([1., 0., 1.]), "m_in": torch.rand(3, 1, 4, 4, generator=g), "m_ex": torch.rand(3, 1, 4, 4, generator=g)}
    out = {"cls": torch.zeros(3), "in": torch.randn(3, 1, 4, 4, generator=g), "ex": torch.zeros(3, 1, 4, 4)}
    intact = objective(None, None)(out, batch)[1]
    broken = bench.broken_objective(objective)(None, None)(out, batch)[1]
    for i in range(3): assert torch.equal(seen["m_in"][i], batch["m_in"][(i - 1) % 3])          # each face: another face's target
    assert torch.equal(seen["m_ex"], batch["m_ex"]) and torch.equal(seen["label"], batch["label"])  # the rest untouched
    assert torch.equal(intact["cls"], broken["cls"]) and torch.equal(intact["ex"], broken["ex"]) and not torch.equal(intact["in"], broken["in"])
