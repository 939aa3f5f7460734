"""Test inputs shared by the test files: tiny clips with real faces (the astronaut, Grace Hopper) sliding over a grey
background, and the bad-input corpus of the reliability tests (`bad_corpus`, its cases and expected reasons in `CASES`)."""
import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pandas as pd
import skimage.data
from matplotlib import cbook

from bigarts.video import write_video

FACE = cv2.resize(skimage.data.astronaut()[30:250, 120:330], (96, 104))
HOPPER = cv2.resize(cv2.cvtColor(cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))), cv2.COLOR_BGR2RGB)[60:400, 100:420], (80, 86))


def frames(n=8, faces=((40, FACE),), tint=0, size=(240, 320), scale=1):
    "`n` RGB frames of a face (or several) sliding over grey; `tint` alters the inner face (a 'fake'); `scale` enlarges everything."
    out = []
    for i in range(n):
        f = np.full((*size, 3), 100, np.uint8)
        for x, face in faces:
            h, w = face.shape[:2]; x = x + 5 * i
            f[60:60 + h, x:x + w] = face
        if tint: f[90:130, 65 + 5 * i:115 + 5 * i] = np.clip(f[90:130, 65 + 5 * i:115 + 5 * i].astype(int) + tint, 0, 255)
        out.append(cv2.resize(f, None, fx=scale, fy=scale) if scale != 1 else f)
    return out


def ffmpeg(*args):
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *map(str, args)], check=True, timeout=120)


BAD_DATASET = "syn-bad"
# name: (label, source, what preprocessing must report with 1 frame in 3: "ok" = frames with a face, else a phrase of the reason)
CASES = {
    "real": (0, "", "ok"),
    "fake": (1, "real", "ok"),
    "vidéo ünï avec espace": (0, "", "ok"),
    "truncated": (1, "", "cannot be opened as a video"),
    "cut_short": (0, "", "truncated or corrupt"),
    "zero": (0, "", "zero-byte file"),
    "text": (1, "", "cannot be opened as a video"),
    "tiny": (0, "", "no face detected in any of the 4 sampled frames"),
    "large": (1, "", "ok"),
    "gray": (0, "", "ok"),
    "vfr": (1, "", "ok"),
    "rotated": (0, "", "ok"),
    "noface": (1, "", "no face detected in any of the 4 sampled frames"),
    "two_faces": (0, "", "ok"),
}
MISSING = "missing"   # listed in split.csv, not on disk


def bad_corpus(root) -> Path:
    """A corpus folder in the synthetic layout (`root`/syn-bad/split.csv + videos/) of good and bad inputs, one per
    `CASES` entry (12-frame clips), plus a row for a video that is not on disk; every row in the test split. → `root`."""
    root = Path(root); v = root / BAD_DATASET / "videos"
    clip = lambda **kw: frames(12, **kw)
    good = write_video(v / "real.mp4", clip())
    write_video(v / "fake.mp4", clip(tint=40))
    write_video(v / "vidéo ünï avec espace.mp4", clip())
    (v / "truncated.mp4").write_bytes(good.read_bytes()[:3000])                     # index (moov) at the end: unopenable
    rng = np.random.default_rng(0)                                                 # noise: every frame costs about as many bytes
    write_video(v.parent / "noisy.mp4", [np.clip(f + rng.normal(0, 6, f.shape), 0, 255).astype(np.uint8) for f in clip()])
    ffmpeg("-i", v.parent / "noisy.mp4", "-c", "copy", "-movflags", "+faststart", v.parent / "fs.mp4")   # index first: opens, then stops
    b = (v.parent / "fs.mp4").read_bytes(); (v / "cut_short.mp4").write_bytes(b[:len(b) * 6 // 10])
    (v / "zero.mp4").write_bytes(b"")
    (v / "text.mp4").write_text("I am not a video, only named like one\n")
    write_video(v / "tiny.avi", [np.full((1, 1, 3), 90, np.uint8)] * 12, codec="ffv1")
    write_video(v / "large.mp4", frames(4, scale=3000 / 320)[:4])                   # 3000×2250 frames
    ffmpeg("-i", good, "-c:v", "ffv1", "-pix_fmt", "gray", v / "gray.mkv")          # a true one-channel stream
    ffmpeg("-i", good, "-vf", "setpts='(N+floor(N/4)*N)/25/TB'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "veryfast",
           v / "vfr.mp4")                                                            # frame gaps of 1, 2, 3 … frame times
    write_video(v.parent / "sideways.mp4", [np.ascontiguousarray(np.rot90(f, -1)) for f in clip()])
    ffmpeg("-display_rotation", "90", "-i", v.parent / "sideways.mp4", "-c", "copy", v / "rotated.mp4")   # stored sideways, shown upright
    write_video(v / "noface.mp4", [np.full((240, 320, 3), 20 * i, np.uint8) for i in range(12)])
    write_video(v / "two_faces.mp4", clip(faces=((10, HOPPER), (140, cv2.resize(FACE, (120, 130))))))
    rows = [(n, lab, "test", src, n) for n, (lab, src, _) in CASES.items()] + [(MISSING, 1, "test", "", MISSING)]
    pd.DataFrame(rows, columns=["name", "label", "split", "source", "identity"]).to_csv(root / BAD_DATASET / "split.csv", index=False)
    return root
