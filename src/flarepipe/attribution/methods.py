"""Attribution methods, all from captum: a registry by name and one call that runs any of them.

=======================  ===============================  =======================================
name                     captum                           what is attributed
=======================  ===============================  =======================================
integrated_gradients     ``IntegratedGradients``          log-odds of the positive class
deeplift                 ``DeepLift``                     log-odds of the positive class
guided_backprop          ``GuidedBackprop``               log-odds of the positive class
deconvolution            ``Deconvolution``                log-odds of the positive class
gradcam                  ``LayerGradCam`` (ReLU)          positive class, every conv layer (S1)
gradcam_negative         ``LayerGradCam`` (no ReLU)       negative class, last conv layer (S3)
hirescam                 ``LayerGradientXActivation``     positive class, Grad-CAM's layers
occlusion                ``Occlusion``                    probability of the positive class (S2)
=======================  ===============================  =======================================

The network's raw scores are wrapped in a two-output head ``[-d, d]`` with ``d`` the log-odds of a
flare (``s1 - s0`` for two class scores, the logit for a one-logit network), so target 1 is the
positive class and target 0 the negative one for any registered network. Occlusion is computed on
the probability ``[1 - p, p]``: its map is the mean change of the flare probability when a square
mask covers a pixel (Bhattacharjee et al. 2020: "label change averaged per pixel").

Baselines (IG, DeepLIFT, occlusion fill): for images ``zero_field`` (B = 0 G through the run's
standardisation; default), ``mean`` (the training mean: 0 in standardised units) or ``blur`` (the
input Gaussian-blurred); for keyword sequences ``first_frame`` (every step set to the sequence's
first step, Sun et al. 2022) or ``zeros``.

HiResCAM (Draelos & Carin 2020) is Grad-CAM without the spatial average of the gradients: the
element-wise product of a layer's gradient and activation, summed over channels and rectified. It
is the faithful variant when a flattening dense head follows the convolutions (this project's CNNs:
Grad-CAM's channel weights there average gradients from different positions); it is not in the
default ``attribution.methods``.

Guided backprop, deconvolution and Grad-CAM need ReLU / convolution layers and apply to image
networks only; IG, DeepLIFT and occlusion also explain the LSTM, over time steps x keywords.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from flarepipe.attribution.inputs import AttributionInputError, Network

__all__ = [
    "IMAGE_BASELINES",
    "METHODS",
    "SEQUENCE_BASELINES",
    "MapSet",
    "MethodSettings",
    "ScoreHead",
    "applicable",
    "attribute",
    "check_layers",
    "conv_layers",
]

#: method name -> input kinds it explains
METHODS: dict[str, tuple[str, ...]] = {
    "integrated_gradients": ("image", "sequence"),
    "deeplift": ("image", "sequence"),
    "guided_backprop": ("image",),
    "deconvolution": ("image",),
    "gradcam": ("image",),
    "gradcam_negative": ("image",),
    "hirescam": ("image",),
    "occlusion": ("image", "sequence"),
}
IMAGE_BASELINES = ("zero_field", "mean", "blur")
SEQUENCE_BASELINES = ("first_frame", "zeros")


@dataclasses.dataclass
class MethodSettings:
    """Settings of the methods (the ``attribution`` section of the configuration).

    Parameters
    ----------
    ig_steps
        Integration steps of integrated gradients.
    baseline
        Image baseline: ``zero_field`` | ``mean`` | ``blur``.
    zero_field_value
        Standardised value of B = 0 G (:meth:`Preprocessing.zero_field`).
    blur_sigma_px
        Gaussian sigma of the ``blur`` baseline, network pixels.
    sequence_baseline
        ``first_frame`` | ``zeros``.
    occlusion_window, occlusion_stride
        Side and stride of the square occlusion mask on images, network pixels.
    occlusion_sequence_window
        ``[time steps, keywords]`` of the occlusion window on sequences (stride 1).
    gradcam_layers
        Layers of ``gradcam`` (module names); None: every ``Conv2d``.
    gradcam_negative_layer
        Layer of ``gradcam_negative``; None: the last ``Conv2d``.
    internal_batch_size
        Batch of the integration steps (memory bound).
    """

    ig_steps: int = 32
    baseline: str = "zero_field"
    zero_field_value: float = 0.0
    blur_sigma_px: float = 4.0
    sequence_baseline: str = "first_frame"
    occlusion_window: int = 8
    occlusion_stride: int = 4
    occlusion_sequence_window: tuple[int, int] = (1, 1)
    gradcam_layers: list[str] | None = None
    gradcam_negative_layer: str | None = None
    internal_batch_size: int = 64


@dataclasses.dataclass
class MapSet:
    """Maps of one method (and one layer for Grad-CAM) for a batch of samples.

    Attributes
    ----------
    method
        Method name.
    layer
        Layer name (Grad-CAM), else ``""``.
    maps
        float32, the input's shape ``[N, 1, H, W]`` / ``[N, T, K]`` (Grad-CAM upsampled bilinearly
        from the layer's grid).
    delta
        Completeness error per sample (IG, DeepLIFT: sum of the map minus the output change
        between input and baseline), else None.
    """

    method: str
    layer: str
    maps: np.ndarray
    delta: np.ndarray | None = None

    @property
    def key(self) -> str:
        """``method`` or ``method@layer``."""
        return f"{self.method}@{self.layer}" if self.layer else self.method


class ScoreHead(nn.Module):
    """Two outputs ``[-d, d]`` (log-odds of a flare) or ``[1 - p, p]`` of any registered network."""

    def __init__(self, network: nn.Module, n_outputs: int, probability: bool = False) -> None:
        super().__init__()
        if n_outputs not in (1, 2):
            raise ValueError(f"networks with 1 or 2 outputs are explained, got {n_outputs}")
        self.network = network
        self.n_outputs = n_outputs
        self.probability = probability

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 2]`` scores of the negative and the positive class."""
        s = self.network(x).float()
        d = s[:, 0] if self.n_outputs == 1 else s[:, 1] - s[:, 0]
        if self.probability:
            p = torch.sigmoid(d)
            return torch.stack([1.0 - p, p], dim=1)
        return torch.stack([-d, d], dim=1)


def applicable(method: str, input_key: str) -> bool:
    """Whether ``method`` explains networks reading ``input_key``."""
    _check_method(method)
    return input_key in METHODS[method]


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise AttributionInputError(
            f"attribution.methods: unknown method {method!r}; captum-backed methods are "
            f"{sorted(METHODS)}"
        )


def conv_layers(module: nn.Module) -> list[str]:
    """Names of the ``Conv2d`` layers of ``module`` in forward-definition order."""
    return [name for name, m in module.named_modules() if isinstance(m, nn.Conv2d)]


def _layer(module: nn.Module, name: str, what: str) -> nn.Module:
    modules = dict(module.named_modules())
    if name not in modules or not name:
        raise AttributionInputError(
            f"{what}: the network has no layer {name!r}; its conv layers are {conv_layers(module)}"
        )
    return modules[name]


def _prepared(module: nn.Module, device: torch.device) -> nn.Module:
    """A private eval-mode copy whose activations are not in-place (captum hooks need that)."""
    net = copy.deepcopy(module).float().eval().to(device)
    for m in net.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _baseline(x: torch.Tensor, input_key: str, s: MethodSettings) -> torch.Tensor:
    if input_key == "sequence":
        if s.sequence_baseline == "first_frame":
            return x[:, :1, :].expand_as(x).clone()
        if s.sequence_baseline == "zeros":
            return torch.zeros_like(x)
        raise AttributionInputError(
            f"attribution.sequence_baseline must be one of {SEQUENCE_BASELINES}, "
            f"got {s.sequence_baseline!r}"
        )
    if s.baseline == "zero_field":
        return torch.full_like(x, float(s.zero_field_value))
    if s.baseline == "mean":
        return torch.zeros_like(x)
    if s.baseline == "blur":
        arr = x.detach().cpu().numpy()
        sig = (0, 0, float(s.blur_sigma_px), float(s.blur_sigma_px))
        return torch.from_numpy(ndimage.gaussian_filter(arr, sig, mode="nearest")).to(x)
    raise AttributionInputError(
        f"attribution.baseline must be one of {IMAGE_BASELINES}, got {s.baseline!r}"
    )


def attribute(
    network: Network,
    inputs: np.ndarray | torch.Tensor,
    method: str,
    settings: MethodSettings | None = None,
    device: str | torch.device = "cpu",
) -> list[MapSet]:
    """Attribution maps of ``method`` for a batch of network inputs.

    Parameters
    ----------
    network
        The network (:func:`flarepipe.attribution.inputs.load_network`).
    inputs
        Standardised inputs ``[N, 1, H, W]`` (image networks) or ``[N, T, K]`` (sequences).
    method
        A name of :data:`METHODS`.
    settings
        Method settings (defaults: :class:`MethodSettings`).
    device
        Where to compute.

    Returns
    -------
    list of MapSet
        One entry, or one per layer for ``gradcam``.

    Raises
    ------
    AttributionInputError
        For an unknown method, a method that does not apply to the network's input, a layer the
        network lacks, an occlusion window larger than the image, or an unknown baseline.
    """
    from captum.attr import (
        Deconvolution,
        DeepLift,
        GuidedBackprop,
        IntegratedGradients,
        LayerAttribution,
        LayerGradCam,
        LayerGradientXActivation,
        Occlusion,
    )

    s = settings or MethodSettings()
    _check_method(method)
    key = network.input_key
    if key not in METHODS[method]:
        raise AttributionInputError(
            f"attribution.methods: {method} does not apply to {network.model} "
            f"({key} input); methods for {key} networks: "
            f"{[m for m, k in METHODS.items() if key in k]}"
        )
    device = torch.device(device)
    x = torch.as_tensor(np.asarray(inputs, dtype=np.float32)).to(device)
    want = 4 if key == "image" else 3
    if x.dim() != want:
        raise AttributionInputError(
            f"{network.model} explains {key} batches of {want} dimensions, got shape "
            f"{tuple(x.shape)}"
        )
    net = _prepared(network.module, device)
    head = ScoreHead(net, network.n_outputs, probability=(method == "occlusion"))
    x = x.detach().clone().requires_grad_(True)

    def out(maps: torch.Tensor, layer: str = "", delta: torch.Tensor | None = None) -> MapSet:
        d = None if delta is None else delta.detach().float().cpu().numpy().reshape(-1)
        return MapSet(method, layer, maps.detach().float().cpu().numpy(), d)

    if method == "integrated_gradients":
        attr, delta = IntegratedGradients(head).attribute(
            x,
            baselines=_baseline(x.detach(), key, s),
            target=1,
            n_steps=int(s.ig_steps),
            internal_batch_size=int(s.internal_batch_size),
            return_convergence_delta=True,
        )
        return [out(attr, delta=delta)]
    if method == "deeplift":
        attr, delta = DeepLift(head).attribute(
            x, baselines=_baseline(x.detach(), key, s), target=1, return_convergence_delta=True
        )
        return [out(attr, delta=delta)]
    if method == "guided_backprop":
        return [out(GuidedBackprop(head).attribute(x, target=1))]
    if method == "deconvolution":
        return [out(Deconvolution(head).attribute(x, target=1))]
    if method == "occlusion":
        base = _baseline(x.detach(), key, s)
        if key == "image":
            h, w = x.shape[-2:]
            win, stride = int(s.occlusion_window), int(s.occlusion_stride)
            if win > min(h, w) or win < 1 or stride < 1:
                raise AttributionInputError(
                    f"attribution.occlusion: window {win} px (stride {stride}) does not fit the "
                    f"{h}x{w} network input"
                )
            shape, strides = (1, win, win), (1, stride, stride)
        else:
            t, k = x.shape[-2:]
            wt, wk = (int(v) for v in s.occlusion_sequence_window)
            if not (1 <= wt <= t and 1 <= wk <= k):
                raise AttributionInputError(
                    f"attribution.occlusion.sequence_window {[wt, wk]} does not fit sequences of "
                    f"{t} steps x {k} keywords"
                )
            shape, strides = (wt, wk), (1, 1)
        with torch.no_grad():
            attr = Occlusion(head).attribute(
                x.detach(), sliding_window_shapes=shape, strides=strides, baselines=base, target=1
            )
        return [out(attr)]
    # Grad-CAM and HiResCAM
    if method in ("gradcam", "hirescam"):
        names = list(s.gradcam_layers) if s.gradcam_layers else conv_layers(net)
        what, target, relu = "attribution.gradcam_layers", 1, True
    else:
        last = s.gradcam_negative_layer or (conv_layers(net) or [""])[-1]
        names, what, target, relu = [last], "attribution.gradcam_negative_layer", 0, False
    if not names:
        raise AttributionInputError(f"{what}: {network.model} has no conv layer for Grad-CAM")
    results = []
    for name in names:
        layer = _layer(net, name, what)
        if method == "hirescam":
            cam = LayerGradientXActivation(head, layer).attribute(x, target=target)
            if cam.dim() == 4:
                cam = torch.relu(cam.sum(dim=1, keepdim=True))
        else:
            cam = LayerGradCam(head, layer).attribute(x, target=target, relu_attributions=relu)
        if cam.dim() != 4:
            raise AttributionInputError(
                f"{what}: layer {name!r} of {network.model} has no spatial output "
                f"(shape {tuple(cam.shape)}); choose one of {conv_layers(net)}"
            )
        cam = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
        results.append(out(cam, layer=name))
    return results


def check_layers(network: Network, names: Sequence[str] | None, what: str) -> None:
    """Raise :class:`AttributionInputError` when a layer of ``names`` is not in the network."""
    for name in names or []:
        _layer(network.module, name, what)
