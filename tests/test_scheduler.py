"""`bigarts repro` (bigarts.scheduler) on small DVC projects, on 2 cores, no network: every Ray node on 127.0.0.1
(checked from `ray.nodes()`), no dashboard, no usage statistics, every Ray a test starts shut down by it.

A local Ray runs independent stages side by side and reruns only what changed; declared GPUs go to distinct stages,
never more at once than there are; a failing stage stops only its dependents (`--fail-fast`: everything); a stage
whose worker dies runs once more; a cluster of a head and two worker nodes runs the stages on both workers and leaves
the `dvc.lock` a serial `dvc repro` leaves. About 2 minutes on 2 CPU cores (most of it Ray starting, three times)."""
import io, json, os, re, shutil, signal, subprocess, sys
from pathlib import Path

import pytest
import yaml

from bigarts.scheduler import Ask, downstream, fit, main, repro, stage_asks, stage_graph, stale_stages

BIN = str(Path(sys.executable).parent)
STAGE = ('python -c "import sys, time; t = time.time(); time.sleep(2); '
         'open(sys.argv[1], \'w\').write(f\'{t} {time.time()}\')"')
GRAPH = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


@pytest.fixture(autouse=True)
def quiet_local_ray(monkeypatch):
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # every node on 127.0.0.1
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")


def on_localhost():
    import ray
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert nodes and {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"}, nodes
    return len(nodes)


def make_project(root: Path, stages: dict, params: str = "c: 1\n") -> Path:
    "A DVC project at `root`: `stages` name → (cmd, deps, params, outs)."
    root.mkdir(parents=True)
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]): subprocess.run(cmd, cwd=root, check=True)
    (root / "params.yaml").write_text(params)
    (root / "dvc.yaml").write_text(json.dumps({"stages": {
        s: {"cmd": cmd, "deps": deps, "params": ps, "outs": outs} for s, (cmd, deps, ps, outs) in stages.items()}}))
    return root


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site"))
    deps = {"a": [], "b": ["a.txt"], "c": ["a.txt"], "d": ["b.txt", "c.txt"]}
    stages = {s: (f"{STAGE} {s}.txt", d, ["c"] if s == "c" else [], [f"{s}.txt"]) for s, d in deps.items()}
    return make_project(tmp_path / "p", stages)


def _span(repo, s): return tuple(map(float, (repo / f"{s}.txt").read_text().split()))


def test_the_graph_and_what_is_stale(project):
    assert stage_graph(project) == GRAPH
    assert sorted(stale_stages(project)) == ["a", "b", "c", "d"]   # nothing has run
    assert downstream(stage_graph(project), ["c"]) == ["c", "d"]


def test_each_stage_asks_what_the_engine_section_says(tmp_path):
    graph = {"corpus": [], "train@a": ["corpus"], "train@b": ["corpus"], "report": ["train@a", "train@b"]}
    p = tmp_path / "params.yaml"
    p.write_text("profile: demo\ntrain: {demo: {threads: 3}}\nengine:\n  common: {train: {gpus: 1, minutes: 9}}\n"
                 "  demo: {corpus: {cpus: 2}}\n")
    asks = stage_asks(graph, p)
    assert asks["train@a"] == asks["train@b"] == Ask(cpus=3, gpus=1, minutes=9)   # a training asks the cores it pins
    assert asks["corpus"] == Ask(cpus=2) and asks["report"] == Ask()
    p.write_text("profile: demo\ntrain: {demo: {threads: 3}}\nengine:\n  common: {train: {gpus: 2}}\n")
    assert stage_asks(graph, p)["train@a"] == Ask(cpus=6, gpus=2)                # two processes of three threads
    one_cpu_node = [{"Alive": True, "Resources": {"CPU": 2.0}}]
    assert fit(asks, one_cpu_node)["train@a"] == Ask(cpus=2, gpus=0, minutes=9)   # no GPU there; at most its cores
    p.write_text("profile: demo\nengine:\n  common: {trian: {gpus: 1}}\n")
    with pytest.raises(ValueError, match="'trian'.*Did you mean 'train'"): stage_asks(graph, p)
    p.write_text("profile: demo\nengine:\n  common: {train: {gpu: 1}}\n")
    with pytest.raises(ValueError, match="'gpu'.*Did you mean 'gpus'"): stage_asks(graph, p)


def test_the_command_starts_its_own_local_ray_and_stops_at_the_first_failure(project, monkeypatch):
    """`bigarts repro --cpus 2 --fail-fast`: own Ray on 127.0.0.1, shut down at the end; c fails, b stops, d never runs.
    Started with SIGINT ignored, as a shell starts a background job: Ray's workers inherit that, and the cancellation
    reaches b all the same."""
    d = yaml.safe_load((project / "dvc.yaml").read_text())
    # b runs in a session of its own, as a notebook's kernel does
    d["stages"]["b"]["cmd"] = ("echo b starts && setsid python -c \"import signal, sys, time; "
                               "signal.signal(signal.SIGTERM, lambda *a: (open('b.term', 'w').close(), sys.exit(3))); "
                               "open('b.ready', 'w').close(); time.sleep(60)\"")
    # c fails once b is running (a loaded machine may start b's task after c has already failed)
    d["stages"]["c"]["cmd"] = ("for i in $(seq 600); do [ -e b.ready ] && break; sleep 0.1; done; "
                               "echo 'c cannot go on' && exit 3")
    (project / "dvc.yaml").write_text(json.dumps(d))
    monkeypatch.delenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")                        # the command sets what it needs
    r = subprocess.run([sys.executable, "-m", "bigarts.cli", "repro", "--cpus", "2", "--fail-fast"], cwd=project,
                       capture_output=True, text=True, timeout=300,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert r.returncode == 1, r.stderr
    out = r.stdout
    assert "on 1 node(s) (127.0.0.1), 2 CPUs, 0 GPUs" in out, out                   # its own Ray, on this host only
    assert "c failed (exit status 3)" in out and "c cannot go on" in out and "logs/c.log" in out, out
    assert "b done" not in out and (project / "b.term").exists() and not (project / "d.txt").exists()   # b got SIGTERM
    assert sorted(stale_stages(project)) == ["b", "c", "d"]                       # a is recorded
    monkeypatch.chdir(project.parent)
    with pytest.raises(SystemExit): main(["--cpus", "2"])                         # no dvc.yaml here


SERIAL = ('python -c "import sys, time; time.sleep(2); '
          'open(sys.argv[1], \'w\').write(\'\'.join(open(f).read() for f in sys.argv[2:]) + sys.argv[1])"')


def test_a_cluster_runs_stages_on_several_nodes_and_leaves_the_serial_lock(tmp_path, monkeypatch):
    "A head (no CPU for stages: the driver and DVC's recorder) and two 1-CPU workers: b and c side by side on both."
    import ray
    from ray.cluster_utils import Cluster
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site"))
    deps = {"a": [], "b": ["a.txt"], "c": ["a.txt"], "d": ["b.txt", "c.txt"]}
    stages = {s: (f"{SERIAL} {s}.txt {' '.join(d)}", d, ["c"] if s == "c" else [], [f"{s}.txt"])
              for s, d in deps.items()}
    repo, serial = make_project(tmp_path / "p", stages), make_project(tmp_path / "serial", stages)
    subprocess.run(["dvc", "repro", "-q"], cwd=serial, check=True)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        for _ in range(2): cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        out = io.StringIO()
        assert repro(repo, address=cluster.address, out=out) == 0
        text = out.getvalue()
        ray.init(address=cluster.address, log_to_driver=False)
        assert on_localhost() == 3
        ray.shutdown()
    finally:
        cluster.shutdown()
    node = {s: re.search(rf"{s} done in \d+ s on node (\d+)", text)[1] for s in "abcd"}
    assert node["b"] != node["c"], text                                              # both workers ran stages
    assert "on 3 node(s)" in text
    lock = lambda p: yaml.safe_load((p / "dvc.lock").read_text())
    assert lock(repo) == lock(serial) and stale_stages(repo) == []


@pytest.fixture(scope="module")
def local_ray():
    "One local Ray for the tests below: 4 logical CPUs and 2 declared GPUs on this CPU machine."
    mp = pytest.MonkeyPatch()
    mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")                             # read when ray is first imported
    mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
    mp.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    import ray
    ray.init(num_cpus=4, num_gpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert on_localhost() == 1
        nap = ray.remote(lambda: __import__("time").sleep(1))
        ray.get([nap.remote() for _ in range(4)])   # four worker processes started: the timings below see none start
        yield
    finally:
        ray.shutdown()
        mp.undo()


def test_side_by_side_then_only_what_changed(project, local_ray):
    out = io.StringIO()
    assert repro(project, out=out) == 0
    (a0, a1), (b0, b1), (c0, c1), (d0, d1) = (_span(project, s) for s in "abcd")
    assert a1 <= min(b0, c0) and max(b0, c0) < min(b1, c1) and max(b1, c1) <= d0   # b and c overlap; a before, d after
    assert "all 4 stages finished" in out.getvalue() and (project / "logs" / "b.log").exists()
    assert stale_stages(project) == []                                               # dvc.lock records every stage
    out = io.StringIO()
    assert repro(project, out=out) == 0 and "up to date" in out.getvalue()
    (project / "params.yaml").write_text("c: 2\n")
    before = {s: _span(project, s) for s in "abcd"}
    assert repro(project, out=io.StringIO()) == 0
    assert [s for s in "abcd" if _span(project, s) != before[s]] == ["c", "d"]


GPU_STAGE = ('python -c "import os, sys, time; t = time.time(); time.sleep(1.5); '
             'open(sys.argv[1], \'w\').write(f\'{t} {time.time()} {os.environ.get(\\"CUDA_VISIBLE_DEVICES\\")}\')"')


def test_gpu_stages_get_distinct_devices_never_more_than_there_are(tmp_path, local_ray):
    "Five GPU stages on 2 declared GPUs and 4 CPUs: at most two at once, on two devices; a CPU stage sees none."
    stages = {f"g{i}": (f"{GPU_STAGE} g{i}.txt", [], [], [f"g{i}.txt"]) for i in range(5)}
    stages["cpu"] = (f"{GPU_STAGE} cpu.txt", [], [], ["cpu.txt"])
    engine = ", ".join(f"g{i}: {{gpus: 1}}" for i in range(5))
    repo = make_project(tmp_path / "g", stages, f"profile: demo\nengine:\n  common: {{{engine}}}\n")
    assert repro(repo, out=io.StringIO()) == 0
    runs = {s: (repo / f"{s}.txt").read_text().split() for s in stages}
    assert len(runs["cpu"]) == 2                                                     # CUDA_VISIBLE_DEVICES empty
    gpu = [(float(t0), float(t1), dev) for s, (t0, t1, dev) in ((s, runs[s]) for s in runs if s != "cpu")]
    assert {dev for *_, dev in gpu} == {"0", "1"}
    for t0, _, _ in gpu:
        now = [dev for a, b, dev in gpu if a <= t0 < b]
        assert len(now) <= 2 and len(set(now)) == len(now)                           # never two stages on one device
    assert any(sum(a <= t0 < b for a, b, _ in gpu) == 2 for t0, _, _ in gpu)        # and the two are used together


TRAIN = """
import json, os, sys
from bigarts.train import TrainConfig, launch_training
cfg = TrainConfig(method="mesoinception4", size=64, batch_size=4, epochs=2, epoch_length=1, val_every=2, log_every=1,
                  workers=0, threads=1, progress=False)
if __name__ == "__main__":                    # the training processes are spawned: they import this file
    metrics = launch_training(cfg, "cache", "run")
    seen = {k: os.environ.get(k) for k in ("BIGARTS_TRAIN_PROCESSES", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")}
    json.dump({**seen, "world_size": metrics["world_size"], "threads": metrics["threads"]}, open("seen.json", "w"))
"""


def test_a_training_given_two_gpus_runs_as_two_ddp_processes(tmp_path, local_ray):
    "`train: {gpus: 2}` on the 2 declared GPUs: a process a GPU (gloo on this CPU), each of one thread; one model file."
    from bigarts.toy import toy_cache
    from bigarts.checkpoint import BEST, read_checkpoint
    outs = ["run/checkpoint_best.safetensors", "run/train_metrics.json", "seen.json"]
    repo = make_project(tmp_path / "t", {"train": ("python train.py", ["cache", "train.py"], [], outs)},
                        "profile: demo\ntrain: {demo: {threads: 1}}\nengine:\n  common: {train: {gpus: 2}}\n")
    (repo / "train.py").write_text(TRAIN)
    toy_cache(repo / "cache", identities=4, frames=2, size=64, dataset="toytr")
    toy_cache(repo / "cache", identities=3, frames=2, size=64, split="val", dataset="toyva").finalize()
    out = io.StringIO()
    assert repro(repo, out=out) == 0, (out.getvalue(), (repo / "logs/train.log").read_text()[-3000:])
    seen = json.loads((repo / "seen.json").read_text())
    assert seen["world_size"] == 2 and seen["BIGARTS_TRAIN_PROCESSES"] == "2", seen   # the trainer saw two processes
    assert sorted(seen["CUDA_VISIBLE_DEVICES"].split(",")) == ["0", "1"], seen          # both of Ray's GPUs
    assert seen["threads"] == 1 and seen["OMP_NUM_THREADS"] == "2", seen               # a thread each, of the 2 cores
    assert read_checkpoint(repo / "run" / BEST)["step"] == 2 and stale_stages(repo) == []


def test_a_failing_stage_stops_only_its_dependents(tmp_path, local_ray):
    "a → b, a → c (fails) → d, e alone: b and e finish and are recorded, d never runs; the summary names c, its log."
    w = lambda s: f"echo {s} > {s}.txt"
    stages = {"a": (w("a"), [], [], ["a.txt"]),
              "b": (f"sleep 2 && {w('b')}", ["a.txt"], [], ["b.txt"]),
              "c": ("echo 'c cannot go on' && exit 3", ["a.txt"], [], ["c.txt"]),
              "d": (w("d"), ["c.txt"], [], ["d.txt"]),
              "e": (w("e"), [], [], ["e.txt"])}
    repo = make_project(tmp_path / "f", stages)
    out = io.StringIO()
    assert repro(repo, out=out) == 1
    text = out.getvalue()
    assert "c FAILED: exit status 3" in text and "c cannot go on" in text, text
    assert re.search(r"1 stage\(s\) failed: c \(log: \S+/logs/c.log\)\. 1 not run because of them", text), text
    assert (repo / "b.txt").exists() and not (repo / "d.txt").exists()
    assert sorted(stale_stages(repo)) == ["c", "d"]                                  # a, b and e are recorded


def test_an_output_with_cache_false_stays_out_of_dvcs_cache(tmp_path, local_ray):
    "As `dvc repro` records it: `b`'s output with `cache: false` (a face cache, say) is not copied into .dvc/cache."
    stages = {"a": ("echo a > a.txt", [], [], ["a.txt"]),
              "b": ("echo uncached-output > b.txt", ["a.txt"], [], [{"b.txt": {"cache": False}}])}
    repo = make_project(tmp_path / "u", stages)
    assert repro(repo, out=io.StringIO()) == 0 and stale_stages(repo) == []
    cached = {p.read_text() for p in (repo / ".dvc/cache/files").rglob("*") if p.is_file()}
    assert "a\n" in cached and "uncached-output\n" not in cached, cached


def test_a_stage_whose_worker_dies_runs_once_more(tmp_path, local_ray):
    "Stage `once` kills its Ray worker on its first try and succeeds on the second; `always` kills it on both."
    die = ('echo try >> {0}.tries && if [ $(wc -l < {0}.tries) -le {1} ]; then kill -9 $PPID; sleep 5; fi; '
           'echo ok > {0}.txt')
    stages = {s: (die.format(s, tries), [], [], [f"{s}.txt"]) for s, tries in (("once", 1), ("always", 9))}
    repo = make_project(tmp_path / "r", stages)
    out = io.StringIO()
    assert repro(repo, out=out) == 1
    assert (repo / "once.tries").read_text().count("try") == 2 and (repo / "once.txt").exists()
    assert (repo / "always.tries").read_text().count("try") == 2                   # retried once, not more
    assert "1 stage(s) failed: always" in out.getvalue() and stale_stages(repo) == ["always"], out.getvalue()


def test_preprocessing_split_into_ray_tasks_gives_the_one_process_cache(tmp_path, local_ray):
    "Three shards on the declared GPUs (MTCNN on the CPU here), merged: the same files, byte for byte, as one process."
    import cv2, numpy as np, pandas as pd, skimage.data
    from bigarts.preprocess import preprocess, preprocess_shards
    from bigarts.video import write_video
    face = cv2.resize(skimage.data.astronaut()[30:250, 120:330], (120, 128))
    def clip(tint, shift):
        frames = []
        for i in range(8):
            f = np.full((240, 320, 3), 90, np.uint8)
            x = 40 + shift + 6 * i
            f[50:178, x:x + 120] = np.clip(face.astype(int) + tint, 0, 255)
            frames.append(f)
        return frames
    rows = []
    for r in range(3):
        write_video(tmp_path / f"r{r}.mp4", clip(0, 10 * r))
        write_video(tmp_path / f"f{r}.mp4", clip(25, 10 * r))
        rows.append(dict(video_id=f"t/r{r}", source_id="", label=0))
        rows.append(dict(video_id=f"t/f{r}", source_id=f"t/r{r}", label=1))
    (tmp_path / "bad.mp4").write_text("not a video")
    rows.append(dict(video_id="t/bad", source_id="", label=0))
    idx = pd.DataFrame(rows).assign(dataset="t", split="test", identity="p",
                                    path=lambda d: [str(tmp_path / f"{v.split('/')[1]}.mp4") for v in d.video_id])
    one = preprocess(idx, tmp_path / "one", every=4, progress=False, device="cpu")
    split = preprocess_shards(idx, tmp_path / "split", 3, cpus=1, gpus=1, every=4)
    files = lambda root: {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    a, b = files(tmp_path / "one"), files(tmp_path / "split")
    assert sorted(a) == sorted(b) and [k for k in a if a[k] != b[k]] == []
    assert len(one) == len(split) > 0 and one.video_id.nunique() == 6                # the bad one is in failures.csv
