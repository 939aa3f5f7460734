"Tiny test clips with real faces (the astronaut, Grace Hopper) sliding over a grey background, shared by the test files."
import cv2
import numpy as np
import skimage.data
from matplotlib import cbook

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
