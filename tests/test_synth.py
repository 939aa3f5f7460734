"""The synthetic corpus: layout, labels, pairing, identity splits, determinism, CLI and bad names."""
import csv, json, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

from bigarts import synth
from bigarts.cli import main as cli_main

DATASETS = ("syn-celebdf", "syn-uadfv")


def _rows(root, ds):
    with open(Path(root)/ds/"split.csv", newline="") as fh: return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn")/"a"
    synth.build_corpus(root, synth.SynthConfig(seed=7, size="tiny", datasets=DATASETS))
    return root


def test_layout(corpus):
    meta = json.loads((corpus/"corpus.json").read_text())
    assert meta["seed"] == 7 and meta["size"] == "tiny" and sorted(meta["datasets"]) == sorted(DATASETS)
    for ds in DATASETS:
        rows = _rows(corpus, ds)
        assert list(rows[0]) == synth.SPLIT_COLUMNS
        names = {r["name"] for r in rows}
        assert names == {p.stem for p in (corpus/ds/"videos").glob("*.mp4")}
        c = meta["datasets"][ds]["counts"]
        assert c["real"] == c["fake"] == sum(r["label"] == "0" for r in rows) == sum(r["label"] == "1" for r in rows)
        assert meta["datasets"][ds]["stands_in_for"] == synth.MIXES[ds].stands_in_for
        v = synth.read_video(corpus/ds/"videos"/f"{rows[0]['name']}.mp4")
        assert v.shape == (synth.SIZES["tiny"].frames, synth.SIZES["tiny"].height, synth.SIZES["tiny"].width, 3)


def test_labels_and_pairing(corpus):
    for ds in DATASETS:
        rows = _rows(corpus, ds); by = {r["name"]: r for r in rows}
        for r in rows:
            if r["label"] == "0": assert r["source"] == ""
            else:
                src = by[r["source"]]               # the source-real exists in the same dataset ...
                assert src["label"] == "0" and src["split"] == r["split"] and src["identity"] == r["identity"]
                f, x = (synth.read_video(corpus/ds/"videos"/f"{n}.mp4") for n in (r["name"], r["source"]))
                m = np.load(corpus/ds/"truth"/f"{r['name']}.npz")["mask"]
                d = np.abs(f.astype(int) - x).max(-1)  # ... and differs from its fake inside the blend mask
                assert d[m > 128].mean() > 3*d[m == 0].mean()


def test_splits_by_identity(corpus):
    rows = _rows(corpus, "syn-celebdf")
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    split_of = {}
    for r in rows: assert split_of.setdefault(r["identity"], r["split"]) == r["split"]
    assert {r["split"] for r in _rows(corpus, "syn-uadfv")} == {"test"}


def test_deterministic(corpus, tmp_path):
    again = tmp_path/"b"
    synth.build_corpus(again, synth.SynthConfig(seed=7, size="tiny", datasets=DATASETS, workers=2))
    assert (again/"corpus.json").read_bytes() == (corpus/"corpus.json").read_bytes()
    for ds in DATASETS:
        assert (again/ds/"split.csv").read_bytes() == (corpus/ds/"split.csv").read_bytes()
        for r in _rows(corpus, ds):
            a, b = (synth.read_video(root/ds/"videos"/f"{r['name']}.mp4") for root in (corpus, again))
            assert np.array_equal(a, b), r["name"]


def test_seed_changes_corpus(corpus, tmp_path):
    synth.build_corpus(tmp_path/"c", synth.SynthConfig(seed=8, size="tiny", datasets=("syn-celebdf",)))
    n = _rows(corpus, "syn-celebdf")[0]["name"]
    a, b = (synth.read_video(root/"syn-celebdf"/"videos"/f"{n}.mp4") for root in (corpus, tmp_path/"c"))
    assert not np.array_equal(a, b)


def test_mix_registry():
    assert len(synth.MIXES) >= 4 and synth.TRAIN_DATASET in synth.MIXES and synth.MIXES[synth.TRAIN_DATASET].splits
    with pytest.raises(ValueError, match="Valid names: syn-celebdf"): synth.get_mix("syn-celbdf")
    with pytest.raises(ValueError, match="Valid names: tiny, demo"): synth.get_size("huge")


def test_cli(tmp_path, capsys):
    assert cli_main(["synth", "--out", str(tmp_path/"o"), "--seed", "3", "--size", "tiny", "--datasets", "syn-dfd"]) == 0
    assert json.loads((tmp_path/"o"/"corpus.json").read_text())["seed"] == 3
    assert cli_main(["synth", "--out", str(tmp_path/"bad"), "--datasets", "syn-dfdd"]) == 2
    assert "Did you mean 'syn-dfd'" in capsys.readouterr().err and not (tmp_path/"bad").exists()
    assert cli_main(["synth", "--out", str(tmp_path/"bad"), "--size", "hueg"]) == 2


def test_faces_folder(tmp_path):
    (tmp_path/"faces").mkdir(); (tmp_path/"faces"/"notes.txt").write_text("x"); (tmp_path/"faces"/"broken.jpg").write_bytes(b"no")
    assert [f.name for f in synth.base_faces(tmp_path/"faces")][:2] == ["astronaut", "astronaut-mirror"]
    assert synth.main(["--out", str(tmp_path/"o"), "--faces", str(tmp_path/"nope")]) == 2
