"""Dataset adapters on miniature trees with each dataset's real file naming and tiny real videos."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bigarts.cli import main as cli
from bigarts.datasets import DATASETS, LayoutError, index_corpus, index_dataset, read_index
from bigarts.video import VideoReader, write_video


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> bytes:
    "The bytes of a real 3-frame 32×32 H.264 mp4, copied wherever a dataset needs a video."
    p = write_video(tmp_path_factory.mktemp("v")/"t.mp4", [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(3)])
    return p.read_bytes()


def put(p: Path, data: bytes = b""):
    p.parent.mkdir(parents=True, exist_ok=True); p.write_bytes(data); return p


def celebdf(root, tiny, ids=8, n=3, youtube=4):
    for i in range(ids):
        for k in range(n):
            put(root/f"Celeb-real/id{i}_{k:04d}.mp4", tiny)
            put(root/f"Celeb-synthesis/id{i}_id{(i + 1) % ids}_{k:04d}.mp4", tiny)
    for k in range(youtube): put(root/f"YouTube-real/{k:05d}.mp4", tiny)
    (root/"List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00000.mp4\n1 Celeb-real/id0_0000.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n0 Celeb-synthesis/id1_id2_0001.mp4\n")
    return root


def ffpp(root, tiny, ids=("000", "001", "002", "003", "004", "005")):
    for i in ids: put(root/f"original_sequences/youtube/c23/videos/{i}.mp4", tiny)
    pairs = {"train": [["000", "001"]], "val": [["002", "003"]], "test": [["004", "005"]]}
    for a, b in sum(pairs.values(), []):
        for n in (f"{a}_{b}", f"{b}_{a}"): put(root/f"manipulated_sequences/Deepfakes/c23/videos/{n}.mp4", tiny)
    for s, p in pairs.items(): put(root/f"splits/{s}.json", json.dumps(p).encode())
    return root


def dfd(root, tiny):
    for a in ("01", "02"):
        for sc in ("exit_phone_room", "walking_outside"): put(root/f"original_sequences/actors/c23/videos/{a}__{sc}.mp4", tiny)
    for n in ("01_02__exit_phone_room__YVGY8LOK", "02_01__walking_outside__ABCD1234", "01_02__walking_outside__QWER5678"):
        put(root/f"manipulated_sequences/DeepFakeDetection/c23/videos/{n}.mp4", tiny)
    return root


def dfdcp(root, tiny):
    "The DFDC preview's naming: reals original_videos/<id>/<id>_<X>_<NNN>.mp4, fakes method_?/<id>/<id>_<X>/<other>_<id>_<X>_<NNN>.mp4."
    meta = {"original_videos/643049/643049_A_001.mp4": {"label": "real", "set": "test"},
            "original_videos/643049/643049_B_002.mp4": {"label": "real", "set": "train"},
            "method_A/643049/643049_A/1955732_643049_A_001.mp4": {"label": "fake", "set": "test", "target_id": 643049, "swapped_id": 1955732},
            "method_B/643049/643049_B/1955733_643049_B_002.mp4": {"label": "fake", "set": "train", "target_id": 643049, "swapped_id": 1955733}}
    for k in meta: put(root/k, tiny)
    put(root/"dataset.json", json.dumps(meta).encode())
    return root


def uadfv(root, tiny):
    for k in ("0000", "0001", "0002"): put(root/f"real/{k}.mp4", tiny); put(root/f"fake/{k}_fake.mp4", tiny)
    return root


def dftimit(root, tiny):
    import cv2
    for who in ("fadg0", "fram1"):
        for sent in ("sa1", "si1449"):
            for q in ("lower_quality", "higher_quality"):
                other = "fram1" if who == "fadg0" else "fadg0"
                put(root/f"DeepfakeTIMIT/{q}/{who}/{sent}-video-{other}.avi", tiny)
            for k in range(3):     # VidTIMIT frames: JPEG files without a suffix
                ok, buf = cv2.imencode(".jpg", np.full((24, 32, 3), 60 * k, np.uint8))
                put(root/f"VidTIMIT/{who}/video/{sent}/{k + 1:03d}", buf.tobytes())
    return root


def wilddeepfake(root, tiny):
    import cv2
    png = cv2.imencode(".png", np.zeros((16, 16, 3), np.uint8))[1].tobytes()
    for sub, seqs in (("real_test", ["56/real/1", "56/real/2", "57/real/1"]), ("fake_test", ["3/fake/1", "4/fake/1"])):
        for s in seqs:
            for k in range(3): put(root/sub/s/f"{k * 10}.png", png)
    return root


def own(root, tiny):
    rows = [("r0", 0, "train", "", "a"), ("r1", 0, "val", "", "b"), ("f0", 1, "train", "r0", "a"), ("f1", 1, "val", "r1", "b"),
            ("r2", 0, "test", "", "c"), ("f2", 1, "test", "r2", "c")]
    for n, *_ in rows: put(root/"videos"/f"{n}.mp4", tiny)
    pd.DataFrame(rows, columns=["name", "label", "split", "source", "identity"]).to_csv(root/"split.csv", index=False)
    return root


BUILDERS = {"celebdf": celebdf, "ffpp": ffpp, "dfd": dfd, "dfdcp": dfdcp, "uadfv": uadfv, "dftimit_lq": dftimit,
            "dftimit_hq": dftimit, "wilddeepfake": wilddeepfake, "own": own}
# (reals, fakes, splits) each miniature tree must give
EXPECTED = {"celebdf": (28, 24, {"train", "val", "test"}), "ffpp": (6, 6, {"train", "val", "test"}), "dfd": (4, 3, {"test"}),
            "dfdcp": (2, 2, {"test"}), "uadfv": (3, 3, {"test"}), "dftimit_lq": (4, 4, {"test"}), "dftimit_hq": (4, 4, {"test"}),
            "wilddeepfake": (3, 2, {"test"}), "own": (3, 3, {"train", "val", "test"})}


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, tiny):
    return {n: index_dataset(n, b(tmp_path_factory.mktemp(n), tiny)) for n, b in BUILDERS.items()}


def test_every_registered_dataset_is_tested():
    assert set(DATASETS) == set(BUILDERS)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_counts_splits_labels(indexes, name):
    df = indexes[name]
    reals, fakes, splits = EXPECTED[name]
    assert (df.label == 0).sum() == reals and (df.label == 1).sum() == fakes
    assert set(df.split) == splits
    assert df.video_id.is_unique and all(v.startswith(d + "/") for v, d in zip(df.video_id, df.dataset))
    assert all(Path(p).exists() for p in df.path)
    src = df[df.label == 1].source_id
    assert src.isin(set(df.video_id[df.label == 0]) | {""}).all()
    for p in df.path[:2]: assert len(list(VideoReader(p))) >= 1     # the paths really decode


def test_ids_unique_across_datasets(indexes):
    allv = pd.concat(indexes.values())
    assert allv.video_id.is_unique      # e.g. dftimit_lq and dftimit_hq share VidTIMIT reals, under distinct ids


def test_celebdf_labels_splits_and_pairing(indexes):
    df = indexes["celebdf"].set_index("video_id")
    test = df[df.split == "test"]
    # the list's "1" = real, "0" = fake; the first line (no header) is kept
    assert test.label.to_dict() == {"celebdf/Celeb-real/id0_0000": 0, "celebdf/Celeb-synthesis/id0_id1_0000": 1,
                                    "celebdf/Celeb-synthesis/id1_id2_0001": 1, "celebdf/YouTube-real/00000": 0}
    assert df.loc["celebdf/Celeb-synthesis/id2_id3_0002", "source_id"] == "celebdf/Celeb-real/id2_0002"
    assert df.loc["celebdf/Celeb-synthesis/id2_id3_0002", "identity"] == "celebdf/id2"
    tv = df[df.split != "test"]
    assert set(tv.split) == {"train", "val"} and 0.55 <= (tv.split == "train").mean() <= 0.95
    fk = tv[(tv.label == 1) & tv.source_id.isin(tv.index)]
    assert (fk.split.values == tv.split[fk.source_id].values).all()    # a real and its fakes never straddle train/val


def test_celebdf_inverted_or_malformed_list_stops(tmp_path, tiny):
    root = celebdf(tmp_path, tiny)
    (root/"List_of_testing_videos.txt").write_text("0 Celeb-real/id0_0000.mp4\n")
    with pytest.raises(ValueError, match="line 1: label 0 for Celeb-real/id0_0000.mp4 contradicts its folder"):
        index_dataset("celebdf", root)
    (root/"List_of_testing_videos.txt").write_text("label,path\n")
    with pytest.raises(ValueError, match="line 1"): index_dataset("celebdf", root)


def test_ffpp_official_splits_and_pairing(indexes):
    df = indexes["ffpp"].set_index("video_id")
    assert df.loc["ffpp/Deepfakes/004_005", "split"] == "test" and df.loc["ffpp/youtube/005", "split"] == "test"
    assert df.loc["ffpp/Deepfakes/003_002", "source_id"] == "ffpp/youtube/003"
    assert df.groupby("split").size().to_dict() == {"train": 4, "val": 4, "test": 4}


def test_ffpp_video_in_two_splits_stops(tmp_path, tiny):
    root = ffpp(tmp_path, tiny)
    (root/"splits/test.json").write_text(json.dumps([["004", "005"], ["000", "001"]]))
    with pytest.raises(ValueError, match="000 is in both train.json and test.json"): index_dataset("ffpp", root)


def test_pairing_of_test_sets(indexes):
    s = lambda n: indexes[n].set_index("video_id").source_id.to_dict()
    assert s("dfd")["dfd/DeepFakeDetection/01_02__exit_phone_room__YVGY8LOK"] == "dfd/actors/01__exit_phone_room"
    assert s("dfdcp")["dfdcp/method_A/643049/643049_A/1955732_643049_A_001"] == "dfdcp/original_videos/643049/643049_A_001"
    assert s("dfdcp")["dfdcp/method_B/643049/643049_B/1955733_643049_B_002"] == "dfdcp/original_videos/643049/643049_B_002"
    assert s("uadfv")["uadfv/fake/0001_fake"] == "uadfv/real/0001"
    assert s("dftimit_hq")["dftimit_hq/fake/fadg0/si1449-video-fram1"] == "dftimit_hq/real/fadg0/si1449"
    assert s("own")[f"{indexes['own'].dataset[0]}/f1"] == f"{indexes['own'].dataset[0]}/r1"
    assert (indexes["wilddeepfake"].source_id == "").all()


def test_missing_files_are_reported_not_dropped_silently(tmp_path, tiny):
    root = uadfv(tmp_path/"u", tiny)
    root = own(tmp_path/"mine", tiny)
    (root/"videos/f2.mp4").unlink()
    with pytest.warns(UserWarning, match="f2.mp4: listed in split.csv but not on disk"):
        df = index_dataset("own", root)
    assert len(df) == 5 and df.attrs["problems"][0][1] == "listed in split.csv but not on disk"


def test_bad_roots_and_names(tmp_path, tiny):
    with pytest.raises(ValueError, match="Valid names: celebdf, ffpp, dfd, dfdcp, uadfv, dftimit_lq, dftimit_hq, wilddeepfake, own"):
        index_dataset("celeb-df", tmp_path)
    with pytest.raises(LayoutError, match="does not exist"): index_dataset("ffpp", tmp_path/"nowhere")
    (tmp_path/"real").mkdir()
    with pytest.raises(LayoutError, match=r"fake not found under .*Expected layout:\n  ROOT/real/NNNN.mp4"): index_dataset("uadfv", tmp_path)
    root = ffpp(tmp_path/"f", tiny); (root/"splits/val.json").unlink()
    with pytest.raises(LayoutError, match="split file .*val.json not found"): index_dataset("ffpp", root)


def test_index_corpus_and_cli(tmp_path, tiny, capsys):
    for n in ("mine", "theirs"): own(tmp_path/"corpus"/n, tiny)
    (tmp_path/"corpus/stray").mkdir()
    df = index_corpus(tmp_path/"corpus")
    assert set(df.dataset) == {"mine", "theirs"} and df.video_id.is_unique and len(df) == 12
    assert df.attrs["problems"] == [(str(tmp_path/"corpus/stray/split.csv"), "missing: folder skipped")]
    assert cli(["index", "--dataset", "own", "--root", str(tmp_path/"corpus/theirs"), "--out", str(tmp_path/"i.csv")]) == 0
    back = read_index(tmp_path/"i.csv")
    assert list(back.columns) == ["video_id", "dataset", "split", "label", "source_id", "identity", "path"]
    assert (back.source_id[back.label == 0] == "").all() and "6 videos" in capsys.readouterr().out
    assert cli(["index", "--dataset", "nope", "--root", str(tmp_path), "--out", str(tmp_path/"x.csv")]) == 2
    assert "Valid names" in capsys.readouterr().err
