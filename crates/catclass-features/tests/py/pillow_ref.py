"""Reference preprocessing with Pillow (and Keras, when importable) for the Rust tests.

Usage: python3 pillow_ref.py JOBS.json
JOBS.json is a list of jobs:
  {"decode": "in.jpg", "out": "x.rgb"}   -> Pillow's decode + convert("RGB"), raw bytes,
                                            and x.rgb.dims = "W H"
  {"png": "in.png", "out_dir": "d", "stem": "s"} -> from a lossless PNG of decoded pixels:
      s.nearest224.rgb    Image.resize((224, 224), NEAREST)
      s.tv.rgb            shorter side 256 BILINEAR + centre crop 224 (torchvision's rule)
      s.keras.f32         Keras load_img(target_size=(224, 224)) + vgg16.preprocess_input,
                          float32 NHWC (real Keras if importable, else the same numpy code)
      s.effnet.f32        (x - 127) / 128, float32 NCHW
      s.torchvision.f32   (x / 255 - mean) / std, float32 NCHW
Prints "keras=real" or "keras=numpy" so the caller knows which reference it got.
"""
import json
import os
import sys

import numpy as np
from PIL import Image

try:
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    import keras  # noqa: E402

    HAVE_KERAS = True
except Exception:  # keras is optional: the numpy path below is Keras' own code
    HAVE_KERAS = False


def keras_like(png):
    if HAVE_KERAS:
        img = keras.utils.load_img(png, target_size=(224, 224))
        x = keras.utils.img_to_array(img)  # float32 HWC
        return keras.applications.vgg16.preprocess_input(x[None])[0].astype(np.float32)
    img = Image.open(png)
    if img.mode != "RGB":
        img = img.convert("RGB")
    if img.size != (224, 224):
        img = img.resize((224, 224), Image.NEAREST)
    x = np.asarray(img, dtype=np.float32).copy()
    x = x[..., ::-1].copy()
    mean = [103.939, 116.779, 123.68]
    x[..., 0] -= mean[0]
    x[..., 1] -= mean[1]
    x[..., 2] -= mean[2]
    return x


def tv_geometry(img):
    w, h = img.size
    if w <= h:
        nw, nh = 256, int(256 * h / w)
    else:
        nw, nh = int(256 * w / h), 256
    img = img.resize((nw, nh), Image.BILINEAR)
    left = int(round((nw - 224) / 2.0))
    top = int(round((nh - 224) / 2.0))
    return img.crop((left, top, left + 224, top + 224))


def main():
    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        if "decode" in job:
            img = Image.open(job["decode"]).convert("RGB")
            open(job["out"], "wb").write(img.tobytes())
            open(job["out"] + ".dims", "w").write("%d %d" % img.size)
            continue
        png, d, s = job["png"], job["out_dir"], job["stem"]
        img = Image.open(png).convert("RGB")
        p = lambda ext: os.path.join(d, s + "." + ext)
        open(p("nearest224.rgb"), "wb").write(img.resize((224, 224), Image.NEAREST).tobytes())
        tv = tv_geometry(img)
        open(p("tv.rgb"), "wb").write(tv.tobytes())
        keras_like(png).astype("<f4").tofile(p("keras.f32"))
        x = np.asarray(tv, dtype=np.float32).transpose(2, 0, 1)
        ((x - np.float32(127)) / np.float32(128)).astype("<f4").tofile(p("effnet.f32"))
        mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
        std = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
        ((x / np.float32(255) - mean) / std).astype("<f4").tofile(p("torchvision.f32"))
    print("keras=real" if HAVE_KERAS else "keras=numpy")


if __name__ == "__main__":
    main()
