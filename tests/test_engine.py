"""`bigarts repro` (bigarts.engine.repro) on a small DVC project: a → (b, c) → d, each stage a 2-second sleep that
writes when it started and ended. Two at a time, b and c run side by side and d waits for both; a second call finds
nothing to do; a changed parameter reruns its stage and what is downstream only; a failing stage stops the rest and
keeps what finished. About 40 s on 2 CPU cores (each stage is one DVC process)."""
import io, json, os, subprocess, sys
from pathlib import Path

import pytest

from bigarts.engine import downstream, repro, stage_graph, stale_stages

BIN = str(Path(sys.executable).parent)
STAGE = 'python -c "import sys, time; t = time.time(); time.sleep(2); open(sys.argv[1], \'w\').write(f\'{t} {time.time()}\')"'


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site"))
    repo = tmp_path / "p"; repo.mkdir()
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]): subprocess.run(cmd, cwd=repo, check=True)
    (repo / "params.yaml").write_text("c: 1\nfail: 0\n")
    stages = {"a": ([], []), "b": (["a.txt"], []), "c": (["a.txt"], ["c"]), "d": (["b.txt", "c.txt"], [])}
    (repo / "dvc.yaml").write_text(json.dumps({"stages": {
        s: {"cmd": f"{STAGE} {s}.txt", "deps": deps, "params": params, "outs": [f"{s}.txt"]} for s, (deps, params) in stages.items()}}))
    return repo


def _span(repo, s): return tuple(map(float, (repo / f"{s}.txt").read_text().split()))


def test_the_graph_and_what_is_stale(project):
    assert stage_graph(project) == {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert sorted(stale_stages(project)) == ["a", "b", "c", "d"]   # nothing has run
    assert downstream(stage_graph(project), ["c"]) == ["c", "d"]


def test_two_at_a_time_side_by_side_then_only_what_changed(project):
    out = io.StringIO()
    assert repro(2, project, out=out) == 0
    (a0, a1), (b0, b1), (c0, c1), (d0, d1) = (_span(project, s) for s in "abcd")
    assert a1 <= min(b0, c0) and max(b0, c0) < min(b1, c1) and max(b1, c1) <= d0   # b and c overlap; a before, d after
    assert "all 4 stages finished" in out.getvalue() and (project / "logs" / "b.log").exists()
    assert stale_stages(project) == []                                               # dvc.lock records every stage

    out = io.StringIO()
    assert repro(2, project, out=out) == 0 and "up to date" in out.getvalue()
    (project / "params.yaml").write_text("c: 2\nfail: 0\n")
    before = {s: _span(project, s) for s in "abcd"}
    out = io.StringIO()
    assert repro(2, project, out=out) == 0
    assert [s for s in "abcd" if _span(project, s) != before[s]] == ["c", "d"], out.getvalue()


def test_a_failing_stage_stops_the_rest_and_keeps_what_finished(project):
    d = json.loads((project / "dvc.yaml").read_text())
    d["stages"]["c"]["cmd"] = "echo 'c cannot go on' && exit 3"
    (project / "dvc.yaml").write_text(json.dumps(d))
    out = io.StringIO()
    assert repro(2, project, out=out) == 1
    text = out.getvalue()
    assert "c FAILED" in text and "c cannot go on" in text and "1 not started" in text, text   # d never starts
    assert not (project / "d.txt").exists()
    assert sorted(stale_stages(project)) == ["c", "d"]                                # a and b are recorded


def test_bad_arguments(project, monkeypatch):
    from bigarts.engine import main
    with pytest.raises(ValueError, match="jobs must be"): repro(0, project)
    monkeypatch.chdir(project.parent)
    with pytest.raises(SystemExit): main(["--jobs", "2"])                            # no dvc.yaml here
