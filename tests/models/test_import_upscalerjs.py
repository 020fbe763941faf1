"""python -m uqcore import-upscalerjs (uqcore.models.upscalerjs) and uqcore.models.tfjs on tiny synthetic ISR graphs written here
(model.json + a weights .bin, packed as an npm tarball), against a numpy reference written here
(plain loops, TF's depth_to_space index formula); and the bundled esrgan-thick's card and quality."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
import torch

from uqcore.models import upscalerjs as script
from uqcore.models import tfjs
from uqcore.models.rrdn import depth_to_space_nhwc

C, D, G, G0, T, S = 2, 2, 4, 8, 2, 2  # tiny sizes


class Graph:
    """Writes a Keras functional config + float32 weights like the TF.js converter does."""

    def __init__(self, rng):
        self.layers, self.weights, self.rng = [], [], rng
        self.add("InputLayer", "LR", [], batch_input_shape=[None, None, None, 3])

    def add(self, kind, name, inputs, **cfg):
        self.layers.append({"class_name": kind, "name": name, "config": {"name": name, **cfg},
                            "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else []})
        return name

    def conv(self, name, src, cin, cout, k=3, padding="same", activation="linear"):
        self.weights.append((f"{name}/kernel", self.rng.normal(0, 0.3, (k, k, cin, cout)).astype("<f4")))
        self.weights.append((f"{name}/bias", self.rng.normal(0, 0.1, cout).astype("<f4")))
        return self.add("Conv2D", name, [src], filters=cout, kernel_size=[k, k], strides=[1, 1], padding=padding,
                        dilation_rate=[1, 1], groups=1, activation=activation)

    def dense(self, x, tag, lff_k, lff_pad):
        feats = x
        for c in range(1, C + 1):
            f = self.conv(f"F_{tag}_{c}", feats, G0 + (c - 1) * G, G)
            r = self.add("Activation", f"F_{tag}_{c}_Relu", [f], activation="relu")
            feats = self.add("Concatenate", f"RDB_Concat_{tag}_{c}", [feats, r], axis=3)
        return self.conv(f"LFF_{tag}", feats, G0 + C * G, G0, lff_k, lff_pad)

    def files(self, folder):
        folder.mkdir(parents=True)
        blob = b"".join(a.tobytes() for _, a in self.weights)
        (folder / "group1-shard1of1.bin").write_bytes(blob)
        manifest = [{"paths": ["group1-shard1of1.bin"],
                     "weights": [{"name": n, "shape": list(a.shape), "dtype": "float32"} for n, a in self.weights]}]
        config = {"class_name": "Functional", "config": {"name": "m", "layers": self.layers,
                  "input_layers": [["LR", 0, 0]], "output_layers": [[self.layers[-1]["name"], 0, 0]]}}
        (folder / "model.json").write_text(json.dumps({"format": "layers-model", "generatedBy": "keras v2.10.0",
                                                       "modelTopology": {"model_config": config},
                                                       "weightsManifest": manifest}))
        return dict(self.weights)


def rrdn_graph(rng):
    g = Graph(rng)
    head = x = g.conv("Pre_blocks_conv", "LR", 3, G0)
    for t in range(1, T + 1):
        y = x
        for d in range(1, D + 1):
            beta = g.add("MultiplyBeta", f"mb_{t}_{d}", [g.dense(y, f"{t}_{d}", 3, "same")], beta=0.2)
            y = g.add("Add", f"LRL_{t}_{d}", [y, beta])
        x = g.add("Add", f"RRDB_{t}_out", [x, g.add("MultiplyBeta", f"mbo_{t}", [y], beta=0.2)])
    x = g.add("Add", "GRL", [g.conv("post_blocks_conv", x, G0, G0), head])
    x = g.add(f"PixelShuffle{S}x", "pixel_shuffle", [g.conv("PreShuffle", x, G0, 3 * S * S)], scale=S)
    g.conv("SR", x, 3, 3)
    return g


def rdn_graph(rng):
    g = Graph(rng)
    f1 = g.conv("F_m1", "LR", 3, G0)
    x, lrls = g.conv("F_0", f1, G0, G0), []
    for d in range(1, D + 1):
        x = g.add("Add", f"LRL_{d}", [g.dense(x, str(d), 1, "valid"), x])
        lrls.append(x)
    x = g.conv("GFF_1", g.add("Concatenate", "LRLs_Concat", lrls, axis=3), D * G0, G0, 1, "valid")
    x = g.add("Add", "FDF", [g.conv("GFF_2", x, G0, G0), f1])
    x = g.conv("UPN1", x, G0, 64, 5, activation="relu")
    x = g.conv("UPN3", g.conv("UPN2", x, 64, 32, activation="relu"), 32, 3 * S * S)
    g.conv("SR", g.add("UpSampling2D", "UPsample", [x], size=[S, S], interpolation="nearest"), 3 * S * S, 3)
    return g


# -- the independent numpy reference ----------------------------------------------------------------
def conv_ref(x, w, b):
    """Loops over kernel taps: NHWC 'same' cross-correlation with an HWIO kernel."""
    k = w.shape[0]
    xp = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
    out = np.zeros(x.shape[:3] + (w.shape[3],))
    for i in range(k):
        for j in range(k):
            out += xp[:, i:i + x.shape[1], j:j + x.shape[2]] @ w[i, j]
    return out + b


def d2s_ref(x, s):
    n, h, w, ch = x.shape
    c = ch // (s * s)
    out = np.zeros((n, h * s, w * s, c))
    for hh in range(h):
        for ww in range(w):
            for i in range(s):
                for j in range(s):
                    out[:, hh * s + i, ww * s + j] = x[:, hh, ww, (i * s + j) * c:(i * s + j + 1) * c]
    return out


def dense_ref(W, x, tag):
    feats = x
    for c in range(1, C + 1):
        f = conv_ref(feats, W[f"F_{tag}_{c}/kernel"], W[f"F_{tag}_{c}/bias"])
        feats = np.concatenate([feats, np.maximum(f, 0)], 3)
    return conv_ref(feats, W[f"LFF_{tag}/kernel"], W[f"LFF_{tag}/bias"])


def cv(W, name, x):
    return conv_ref(x, W[f"{name}/kernel"], W[f"{name}/bias"])


def rrdn_ref(W, x, shuffle=d2s_ref):
    head = x = cv(W, "Pre_blocks_conv", x)
    for t in range(1, T + 1):
        y = x
        for d in range(1, D + 1):
            y = y + 0.2 * dense_ref(W, y, f"{t}_{d}")
        x = x + 0.2 * y
    return cv(W, "SR", shuffle(cv(W, "PreShuffle", cv(W, "post_blocks_conv", x) + head), S))


def rdn_ref(W, x):
    f1 = cv(W, "F_m1", x)
    x, lrls = cv(W, "F_0", f1), []
    for d in range(1, D + 1):
        x = dense_ref(W, x, str(d)) + x
        lrls.append(x)
    x = cv(W, "GFF_2", cv(W, "GFF_1", np.concatenate(lrls, 3))) + f1
    x = cv(W, "UPN3", np.maximum(cv(W, "UPN2", np.maximum(cv(W, "UPN1", x), 0)), 0))
    return cv(W, "SR", x.repeat(S, 1).repeat(S, 2))


def npm_tarball(tmp_path, graph, arch, size="tiny"):
    """An npm-pack-shaped tarball around the graph (package.json, README, LICENSE, model definition)."""
    pkg = tmp_path / "src" / "package"
    W = graph.files(pkg / "models" / f"x{S}")
    (pkg / "package.json").write_text(json.dumps({"name": f"@upscalerjs/esrgan-{size}", "version": "1.0.0",
                                                  "license": "MIT"}))
    (pkg / "README.md").write_text("tiny")
    (pkg / "LICENSE").write_text("MIT")
    definition = pkg / "dist" / "esm" / "models" / f"esrgan-{size}" / "src" / "getModelDefinition.js"
    definition.parent.mkdir(parents=True)
    definition.write_text(f"meta: {{\n C: {C},\n architecture: \"{arch}\",\n size: '{size}',\n dataset: 'div2k',\n}}")
    tarball = tmp_path / f"upscalerjs-esrgan-{size}-1.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(pkg, arcname="package")
    return tarball, W


@pytest.mark.parametrize("arch", ["rrdn", "rdn"])
def test_import_matches_numpy_reference(tmp_path, arch):
    rng = np.random.default_rng(0)
    graph = rrdn_graph(rng) if arch == "rrdn" else rdn_graph(rng)
    tarball, W = npm_tarball(tmp_path, graph, arch)
    imp = script.import_package(tarball, S, tmp_path / "work")
    module, vr = imp["module"], script.VALUE_RANGE[arch]
    assert imp["arch"] == arch and imp["info"]["license"] == "MIT"
    assert imp["kwargs"] == dict(C=C, D=D, G=G, G0=G0, scale=S, value_range=vr, **({"T": T} if arch == "rrdn" else {}))
    names = {n for n, _ in module.named_modules()}  # grouped, readable injection points
    assert ({"rrdb.1.rdb.1.conv2", "rrdb.0.rdb.0.lff", "upsample.shuffle"} if arch == "rrdn"
            else {"rdb.1.conv2", "rdb.0.lff", "upsample.resize", "gff1"}) <= names
    x = rng.random((1, 5, 6, 3))
    ref = (rrdn_ref if arch == "rrdn" else rdn_ref)(W, x * vr) / vr
    with torch.inference_mode():
        out = module(torch.from_numpy(x).permute(0, 3, 1, 2).float()).permute(0, 2, 3, 1).double().numpy()
    assert out.shape == (1, 5 * S, 6 * S, 3)
    assert np.abs(out - ref).max() < 1e-4 * max(1.0, np.abs(ref).max())
    config, weights = tfjs.read_layers_model(tmp_path / "work" / tarball.stem / "package" / "models" / f"x{S}")
    assert np.abs(tfjs.keras_forward(config, weights, x * vr) / vr - ref).max() < 1e-9 * max(1.0, np.abs(ref).max())
    if arch == "rrdn":  # torch's pixel_shuffle channel order would give another image
        wrong = rrdn_ref(W, x * vr, shuffle=lambda a, s: torch.pixel_shuffle(
            torch.from_numpy(a).permute(0, 3, 1, 2), s).permute(0, 2, 3, 1).numpy()) / vr
        assert np.abs(wrong - ref).max() > 1e-2 * np.abs(ref).max()
    stored = imp["stored"]  # the network as the zoo runs it from the float16 file
    for (name, a), b in zip(module.state_dict().items(), stored.state_dict().values()):
        assert b.dtype == torch.float32 and torch.equal(b, a.half().float()), name
    assert not all(torch.equal(a, b) for a, b in zip(module.state_dict().values(), stored.state_dict().values()))


def test_depth_to_space_channel_order():
    x = np.random.default_rng(1).random((1, 3, 4, 2 * 9))
    ref = d2s_ref(x, 3)
    assert np.allclose(tfjs.depth_to_space(x, 3), ref)
    t = depth_to_space_nhwc(torch.from_numpy(x).permute(0, 3, 1, 2), 3).permute(0, 2, 3, 1).numpy()
    assert np.allclose(t, ref)
    ps = torch.pixel_shuffle(torch.from_numpy(x).permute(0, 3, 1, 2), 3).permute(0, 2, 3, 1).numpy()
    assert not np.allclose(ps, ref)


def test_unsupported_layer_is_refused(tmp_path):
    g = Graph(np.random.default_rng(0))
    g.add("Dense", "fc", ["LR"], units=3)
    g.files(tmp_path / "m")
    config, weights = tfjs.read_layers_model(tmp_path / "m")
    with pytest.raises(tfjs.InputError, match="Dense is not supported"):
        tfjs.keras_forward(config, weights, np.zeros((1, 2, 2, 3)))


# -- the bundled third-party model -------------------------------------------------------------------
def test_bundled_esrgan_card_and_quality():
    import uqcore
    from uqcore.metrics.quality import psnr_ssim
    from uqcore.models.srresnet import bicubic_downscale, bicubic_upscale, load_hr
    from uqcore.models.registry import MODELS_DIR

    if "esrgan-thick" not in uqcore.list_models("sr"):
        pytest.skip("esrgan-thick is not bundled (python -m uqcore import-upscalerjs --write esrgan-thick)")
    card = uqcore.model_card("esrgan-thick")
    assert card["origin"]["package"] == "@upscalerjs/esrgan-thick" and card["origin"]["version"] == "1.0.0"
    assert card["origin"]["license"] == "MIT"
    assert "DIV2K" in card["training"]["data"] and card["eval"]["mean"]["psnr_gain"] > 0
    model = uqcore.load_model("esrgan-thick", student=False)
    names = {layer.name for layer in uqcore.list_layers(model)}
    assert {"rrdb.3.rdb.1.conv2", "rrdb.9.rdb.2.lff", "upsample.conv", "tail"} <= names
    hr = load_hr(MODELS_DIR.parent / "samples" / "sr" / "brick.png")[..., :128, :128]  # one small sample
    lr = bicubic_downscale(hr, 4)
    with torch.inference_mode():
        sr = model.module(lr)
    assert sr.shape == hr.shape
    psnr, _ = psnr_ssim(sr, hr, border=4)
    bicubic, _ = psnr_ssim(bicubic_upscale(lr, 4), hr, border=4)
    assert psnr > bicubic + 0.5, (psnr, bicubic)
    from safetensors import safe_open

    path = MODELS_DIR / card["weights"]
    assert path.stat().st_size < 20 * 2**20  # the project's guideline for a committed file
    with safe_open(str(path), "pt") as f:  # stored float16, run as float32
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
    assert {p.dtype for p in model.module.parameters()} == {torch.float32}
    assert card["import"]["storage"]["max_abs_diff_vs_float32"] < 1 / 255  # under one 8-bit level
