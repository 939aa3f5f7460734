"""benchmarks/paper_budget.py: the projection's arithmetic, and its CPU mode end to end on two runs."""
import importlib.util, json, math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("paper_budget", ROOT / "benchmarks" / "paper_budget.py")
pb = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(pb)

RATES = {"preprocess": 100.0, "train": {"both": 1600.0, "gsrm": 800.0}, "score": {"both": 3600.0, "gsrm": 1800.0}}
RUNS = {r: {"images": 1200 * 150 * 32, "validations": 120, "train_on": "Celeb-DF"} for r in ("both", "gsrm")}
SEC5 = {"robustness_levels": 23, "crfs": 6, "partial_runs": ["both", "gsrm"], "regions": 7}


def test_sampled_frames():
    assert pb.frames(518, 300, 10) == 518 * 30 and pb.frames(2, 7, 10) == 2   # a short video still gives its first frame


def test_the_projection_adds_up():
    d = pb.project(RATES, RUNS, SEC5, frames_per_video=300, every=10).set_index("stage")
    val = 120 * 1140 * 30                                                        # 120 validations of Celeb-DF's val split
    assert d.hours["train@both"] == pytest.approx(5_760_000 / 1600 / 3600 + val / 3600 / 3600)   # 1 h + 1.27 h
    assert d.hours["train@gsrm"] == pytest.approx(2 * d.hours["train@both"])    # half the rates: twice the time
    test = 30 * sum(v["test"] for v in pb.PAPER_VIDEOS.values())
    assert d.work["evaluate"] == 2 * test and d.hours["evaluate"] == pytest.approx(test / 3600 / 3600 + test / 1800 / 3600)
    assert d.hours["preprocess"] == pytest.approx(30 * sum(n for v in pb.PAPER_VIDEOS.values() for n in v.values()) / 100 / 3600)
    assert d.hours["robustness"] == pytest.approx(23 * 518 * 30 / 3600 / 3600)
    assert d.hours["partial"] == pytest.approx(7 * 518 * 30 * (1 / 3600 + 1 / 1800) / 3600)
    assert d.hours.sum() == pytest.approx(sum(d.hours))


def test_the_wall_time_follows_the_stage_graph():
    d = pb.project(RATES, RUNS, SEC5, frames_per_video=300, every=10)
    h = d.set_index("stage").hours
    assert pb.wall_hours(d, 1) == pytest.approx(h.sum())                         # one GPU: one stage after another
    after_both = h["train@both"] + max(h["robustness"], h["compression (re-encoding not measured)"])
    after_all = h["train@gsrm"] + max(h["evaluate"], h["partial"])                # gsrm trains longer than both
    chain = h["preprocess"] / 8 + max(after_both, after_all)                      # as many GPUs as stages: the longest chain
    assert pb.wall_hours(d, 8) == pytest.approx(chain) and pb.wall_hours(d, 2) <= pb.wall_hours(d, 1)


def test_a_missing_rate_is_not_a_zero():
    d = pb.project({**RATES, "train": {"both": 1600.0}}, RUNS, SEC5).set_index("stage")
    assert math.isnan(d.hours["train@gsrm"]) and not math.isnan(d.hours["train@both"])
    assert math.isnan(d.hours.sum(min_count=len(d)))


@pytest.mark.slow
def test_cpu_mode_measures_every_run_it_is_given(tmp_path, capsys):
    out = tmp_path / "budget.json"
    assert pb.main(["--params", str(ROOT / "params.yaml"), "--runs", "both,mesoinception4", "--steps", "1", "--warmup", "0",
                    "--clips", "1", "--frames-per-video", "20", "--json", str(out)]) == 0
    j = json.loads(out.read_text())
    assert "CPU figures" in j["device"] and "CPU figures" in capsys.readouterr().out
    assert set(j["runs"]) == {"both", "mesoinception4"} and j["rates"]["preprocess"] > 0
    assert all(r["e2e"] > 0 and r["model_only"] > 0 and r["score"] > 0 and r["size"] == 64 for r in j["runs"].values())
    stages = [p["stage"] for p in j["projection"]]
    assert stages[:3] == ["preprocess", "train@both", "train@mesoinception4"] and "evaluate" in stages
