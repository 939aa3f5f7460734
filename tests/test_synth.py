"""The synthetic stand-ins: native layouts read by the real adapters, labels, pairing, identity splits, determinism, CLI and bad names."""
import csv, json, subprocess, sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from bigarts import synth
from bigarts.cli import main as cli_main
from bigarts.datasets import DATASETS as ADAPTERS, index_dataset
from bigarts.video import read_video

DATASETS = ("celebdf", "ffpp", "dftimit_lq", "wilddeepfake")     # videos, split files, VidTIMIT frame folders, face crops


def _pairs(root, ds):
    with open(Path(root)/"truth"/f"{ds}.csv", newline="") as fh: return list(csv.DictReader(fh))


def _clip(root, ds, rel): return read_video(Path(root)/ADAPTERS[ds].folder/rel)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn")/"a"
    synth.build_corpus(root, synth.SynthConfig(seed=7, size="tiny", datasets=DATASETS))
    return root


def test_native_layouts_read_by_the_real_adapters(corpus):
    meta = json.loads((corpus/"synth.json").read_text())
    assert meta["seed"] == 7 and meta["size"] == "tiny" and sorted(meta["datasets"]) == sorted(DATASETS)
    assert sorted(p.name for p in corpus.iterdir()) == ["Celeb-DF-v2", "DeepfakeTIMIT", "FaceForensics++", "WildDeepFake", "synth.json", "truth"]
    for ds in DATASETS:
        pairs, df = _pairs(corpus, ds), index_dataset(ds, corpus/ADAPTERS[ds].folder)
        assert not df.attrs["problems"] and int(df.label.sum()) == len(pairs) == meta["datasets"][ds]["pairs"]
        fakes = df[df.label == 1].set_index("path")
        for p in pairs:                                       # the adapter finds each fake, its split and (but WildDeepFake) its source
            f = fakes.loc[str(corpus/ADAPTERS[ds].folder/p["fake"].rstrip("/"))]
            assert (f.split == p["split"]) if ds != "celebdf" else ((f.split == "test") == (p["split"] == "test")), (ds, p)   # Celeb-DF: train/val is the adapter's
            if ds != "wilddeepfake": assert f.source_id != "", (ds, p)
    t = synth.SIZES["tiny"]
    assert _clip(corpus, "celebdf", _pairs(corpus, "celebdf")[0]["real"]).shape == (t.frames, t.height, t.width, 3)
    first = next((corpus/"DeepfakeTIMIT/VidTIMIT").glob("*/video/sa1"))
    assert sorted(p.name for p in first.iterdir())[:2] == ["001", "002"] and (first/"001").read_bytes()[:2] == b"\xff\xd8"   # VidTIMIT: JPEGs, no suffix
    crop = _clip(corpus, "wilddeepfake", _pairs(corpus, "wilddeepfake")[0]["fake"])
    assert crop.shape[1] == crop.shape[2] < t.height                                 # WildDeepFake: square face crops


def test_labels_and_pairing(corpus):
    for ds in DATASETS:
        for p in _pairs(corpus, ds):
            f, x = _clip(corpus, ds, p["fake"]), _clip(corpus, ds, p["real"])
            m = np.load(corpus/p["truth"])["mask"]
            d = np.abs(f.astype(int) - x).max(-1)             # a fake differs from its source real inside the blend mask
            assert d[m > 128].mean() > 3*d[m == 0].mean(), (ds, p["fake"])


def test_splits_by_identity(corpus):
    pairs = _pairs(corpus, "celebdf")
    assert {p["split"] for p in pairs} == {"train", "val", "test"}
    split_of = {}
    for p in pairs:
        assert split_of.setdefault(p["identity"], p["split"]) == p["split"]   # (tiny: one identity a split, so a face may come from another)
    test = (corpus/"Celeb-DF-v2/List_of_testing_videos.txt").read_text().split()
    assert sorted(test[1::2]) == sorted(x for p in pairs if p["split"] == "test" for x in (p["real"], p["fake"]))
    ff = json.loads((corpus/"FaceForensics++/splits/test.json").read_text())
    assert ff and all(len(x) == 2 and all(len(v) == 3 for v in x) for x in ff)   # FF++: pairs of 3-digit names
    assert {p["split"] for p in _pairs(corpus, "dftimit_lq")} == {"test"}


def test_deterministic(corpus, tmp_path):
    again = tmp_path/"b"
    synth.build_corpus(again, synth.SynthConfig(seed=7, size="tiny", datasets=DATASETS, workers=2))
    assert (again/"synth.json").read_bytes() == (corpus/"synth.json").read_bytes()
    for ds in DATASETS:
        assert (again/"truth"/f"{ds}.csv").read_bytes() == (corpus/"truth"/f"{ds}.csv").read_bytes()
        for p in _pairs(corpus, ds):
            for k in ("real", "fake"):
                assert np.array_equal(_clip(corpus, ds, p[k]), _clip(again, ds, p[k])), p[k]


def test_seed_changes_corpus(corpus, tmp_path):
    synth.build_corpus(tmp_path/"c", synth.SynthConfig(seed=8, size="tiny", datasets=("celebdf",)))
    p = _pairs(corpus, "celebdf")[0]
    assert p["real"] in {q["real"] for q in _pairs(tmp_path/"c", "celebdf")}
    assert not np.array_equal(_clip(corpus, "celebdf", p["real"]), _clip(tmp_path/"c", "celebdf", p["real"]))


def test_mix_registry():
    assert set(synth.MIXES) == set(synth.NATIVE) == {n for n, a in ADAPTERS.items() if a.paper} and synth.MIXES["celebdf"].splits
    with pytest.raises(ValueError, match="Valid names: celebdf"): synth.get_mix("celbdf")
    with pytest.raises(ValueError, match="Valid names: tiny, demo"): synth.get_size("huge")


def test_cli(tmp_path, capsys):
    assert cli_main(["synth", "--out", str(tmp_path/"o"), "--seed", "3", "--size", "tiny", "--datasets", "dfd"]) == 0
    assert json.loads((tmp_path/"o"/"synth.json").read_text())["seed"] == 3
    assert f"dfd: {tmp_path/'o'/'FaceForensics++'}" in capsys.readouterr().out                 # where each stand-in went
    assert cli_main(["synth", "--out", str(tmp_path/"bad"), "--datasets", "dfdd"]) == 2
    assert "Did you mean 'dfd'" in capsys.readouterr().err and not (tmp_path/"bad").exists()
    assert cli_main(["synth", "--out", str(tmp_path/"bad"), "--size", "hueg"]) == 2


def test_faces_folder(tmp_path):
    (tmp_path/"faces").mkdir(); (tmp_path/"faces"/"notes.txt").write_text("x"); (tmp_path/"faces"/"broken.jpg").write_bytes(b"no")
    assert [f.name for f in synth.base_faces(tmp_path/"faces")][:2] == ["astronaut", "astronaut-mirror"]
    assert synth.main(["--out", str(tmp_path/"o"), "--faces", str(tmp_path/"nope")]) == 2


def test_the_truth_records_each_fakes_family_and_settings(corpus):
    meta = json.loads((corpus/"synth.json").read_text())
    for ds in DATASETS:
        pairs = _pairs(corpus, ds)
        assert list(pairs[0]) == synth.TRUTH_COLUMNS
        assert {p["family"] for p in pairs} <= set(synth.FAMILIES)
        assert meta["datasets"][ds]["families"] == {f: sum(p["family"] == f for p in pairs) for f in synth.FAMILIES}
        for p in pairs:   # the settings follow the family: a generator resolution below the face's, or none; Poisson only when hidden
            assert (int(p["res"]) > 0) == (p["family"] != "extrinsic") and int(p["res"]) < int(p["face_res"])
            assert (p["blend"] == "poisson") == (p["family"] == "intrinsic")


def test_demo_test_sets_have_forty_identities_and_the_mixs_families():
    bases = synth.base_faces()
    for ds, mix in synth.MIXES.items():
        faces, pairs = synth.plan_dataset(ds, synth.SIZES["demo"], 0, bases)
        test = [p for p in pairs if p["split"] == "test"]
        assert len(test) == len({p["identity"] for p in test}) == 40, ds                 # 40 reals and 40 fakes, one identity each
        got = np.array([sum(p["family"] == f for p in test) for f in synth.FAMILIES])
        assert got.sum() == 40 and np.abs(got - 40*np.array(mix.families)).max() < 1, (ds, got)


@pytest.mark.parametrize("family", synth.FAMILIES)
def test_each_family_has_its_property(family):
    "Measured on generated fakes of every mix, not read from the label: detail lost by up-sampling, a step at the boundary."
    bases, got = synth.base_faces(), []
    for ds, mix in synth.MIXES.items():
        for k in range(3):
            pair = synth.render_pair(mix, synth.SIZES["demo"], 11, f"{ds}/{family}/{k}", bases[k], bases[(k + 2) % 4], family, 3, full=True)
            got.append(synth.family_measures(pair))
    detail, edge = np.array([g["detail_kept"] for g in got]), np.array([g["edge_step"] for g in got])
    if family == "extrinsic": assert detail.min() > 0.99            # the face at its full resolution: all its detail kept
    else: assert detail.max() < 0.85                                  # generated low and up-sampled: detail lost
    if family == "intrinsic": assert edge.max() < 3.5                 # Poisson: the change fades out at the edge
    else: assert edge.min() > 4.5                                     # a hard or lightly feathered edge, weak colour match


def test_reals_share_the_fakes_processing():
    "A real and its fake get the same noise field, blur and JPEG: outside the swap they are equal; some videos come from a low-resolution source."
    bases = synth.base_faces()
    p = synth.make_pair(synth.MIXES["wilddeepfake"], synth.SIZES["tiny"], 0, "x", bases[0], bases[2], "extrinsic", 3)
    far = cv2.dilate(p["mask"].max(0), np.ones((41, 41), np.uint8)) == 0           # away from the swap (and JPEG blocks near it)
    assert np.array_equal(p["real"][:, far], p["fake"][:, far])
    lows = [synth.draw_choice(synth.MIXES["wilddeepfake"], "both", 100, synth.rng_for(0, k))["lowres"] for k in range(200)]
    assert 0.35 < np.mean(np.array(lows) < 1) < 0.65                                  # the mix's share, 0.5
