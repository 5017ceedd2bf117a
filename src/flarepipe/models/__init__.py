"""Plain ``nn.Module`` networks, a name registry and a FLOP counter.

Every network has two class attributes the training task reads:

* ``input_key`` -- which batch entry it consumes (``"sequence"`` [B,T,K] or ``"image"`` [B,1,H,W]);
* ``n_outputs`` -- 2 for class scores (softmax/cross-entropy), 1 for a single logit (sigmoid/BCE).

Networks return raw scores (logits); the softmax/sigmoid lives in the loss and in prediction.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    "MODELS",
    "CNN2Net",
    "CNNNet",
    "InceptionBlock",
    "LSTMNet",
    "build_model",
    "count_flops",
    "model_defaults",
]


def _scale(channels: Sequence[int], width: float) -> list[int]:
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return [max(1, int(round(c * width))) for c in channels]


class LSTMNet(nn.Module):
    """Stacked LSTM on the keyword sequence; the last step's output goes to a linear layer.

    S1 (Sun et al. 2022): 2 layers of 64 units on the 16-step sequence of 4 keywords, last output
    -> linear(2) -> softmax (the softmax is applied by the loss / at prediction).

    Parameters
    ----------
    n_features
        Keywords per step, K.
    hidden
        LSTM units per layer.
    layers
        Stacked LSTM layers.
    n_classes
        Output scores.
    dropout
        Dropout between LSTM layers (S1: none).
    """

    input_key = "sequence"

    def __init__(
        self,
        n_features: int = 4,
        hidden: int = 64,
        layers: int = 2,
        n_classes: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_outputs = n_classes
        self.lstm = nn.LSTM(
            input_size=n_features,
            hidden_size=hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.linear = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores [B, n_classes] for sequences ``x`` [B, T, K]."""
        out, _ = self.lstm(x)
        return self.linear(out[:, -1, :])


class CNNNet(nn.Module):
    """The CNN of Sun et al. 2022 after Li et al. 2020 (``CNN_Li2020`` in their ``arnet`` code).

    Five convolutions (11x11, 11x11, 3x3, 3x3, 3x3; 'same' padding), each followed by batch norm,
    ReLU and 2x2 max-pooling; then linear layers (128, 64) each followed by batch norm and dropout
    0.5 with *no* activation (as in the published code), and a final linear layer to 2 scores.
    The published widths are 64 channels for every convolution: about 4.4 GFLOP forward per
    128x128 sample (~13 GFLOP per training sample with the backward pass).

    The published network flattens the 4x4 map left after five poolings of a 128x128 input. Here an
    adaptive average pool to ``pooled_size`` x ``pooled_size`` comes first, so at 128x128 the
    network is the published one (the pool is the identity) and any input of at least 32x32 works
    with the same linear layers.

    Parameters
    ----------
    in_channels
        Input channels (1: the magnetogram).
    channels
        Output channels of the five convolutions before ``width`` scaling (published: 64 each).
    kernels
        Kernel sizes of the convolutions (published: 11, 11, 3, 3, 3).
    width
        Multiplier on ``channels`` (e.g. 0.25 for a CPU-sized network).
    hidden
        Sizes of the hidden linear layers (published: 128, 64).
    dropout
        Dropout after each hidden linear layer (published: 0.5).
    pooled_size
        Side of the adaptive pool before the linear layers (4 reproduces the published 128x128
        network exactly).
    n_classes
        Output scores.
    """

    input_key = "image"

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (64, 64, 64, 64, 64),
        kernels: Sequence[int] = (11, 11, 3, 3, 3),
        width: float = 1.0,
        hidden: Sequence[int] = (128, 64),
        dropout: float = 0.5,
        pooled_size: int = 4,
        n_classes: int = 2,
    ) -> None:
        super().__init__()
        if len(channels) != len(kernels):
            raise ValueError(
                f"channels {list(channels)} and kernels {list(kernels)} differ in length"
            )
        self.n_outputs = n_classes
        chans = _scale(channels, width)
        self.min_size = 2 ** len(chans)
        convs: OrderedDict[str, nn.Module] = OrderedDict()
        prev = in_channels
        for i, (c, k) in enumerate(zip(chans, kernels, strict=True), start=1):
            convs[f"conv{i}"] = nn.Conv2d(prev, c, k, padding=k // 2)
            convs[f"conv_bn{i}"] = nn.BatchNorm2d(c)
            convs[f"conv_relu{i}"] = nn.ReLU(inplace=True)
            convs[f"conv_pool{i}"] = nn.MaxPool2d(2)
            prev = c
        self.convs = nn.Sequential(convs)
        self.pool = nn.AdaptiveAvgPool2d(pooled_size)
        linears: OrderedDict[str, nn.Module] = OrderedDict()
        prev = prev * pooled_size * pooled_size
        for i, h in enumerate(hidden, start=1):
            linears[f"linear{i}"] = nn.Linear(prev, h)
            linears[f"linear_bn{i}"] = nn.BatchNorm1d(h)
            linears[f"linear_dropout{i}"] = nn.Dropout(dropout)
            prev = h
        linears[f"linear{len(hidden) + 1}"] = nn.Linear(prev, n_classes)
        self.linears = nn.Sequential(linears)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores [B, n_classes] for images ``x`` [B, C, H, W] with H, W >= 32."""
        if x.shape[-1] < self.min_size or x.shape[-2] < self.min_size:
            raise ValueError(
                f"CNNNet needs images of at least {self.min_size}x{self.min_size}, "
                f"got {tuple(x.shape[-2:])}"
            )
        x = self.pool(self.convs(x))
        return self.linears(torch.flatten(x, 1))


def _conv_bn_act(cin: int, cout: int, k: int, slope: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(slope, inplace=True),
    )


class InceptionBlock(nn.Module):
    """Parallel 3x3, 5x5 and 7x7 convolutions and a 3x3 max-pool, concatenated on channels.

    Output channels: ``3 * branch_channels + in_channels`` (the pool branch passes the input
    channels through).
    """

    def __init__(self, in_channels: int, branch_channels: int, slope: float = 0.01) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [_conv_bn_act(in_channels, branch_channels, k, slope) for k in (3, 5, 7)]
        )
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.out_channels = 3 * branch_channels + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenate the branches of ``x`` [B, C, H, W] -> [B, out_channels, H, W]."""
        return torch.cat([b(x) for b in self.branches] + [self.pool(x)], dim=1)


class CNN2Net(nn.Module):
    """CNN-2 of Bhattacharjee et al. 2020 (S2): an inception-style flaring-region classifier.

    conv 7x7 -> pool -> conv 3x3 -> pool -> inception -> pool -> inception -> global average pool
    -> linear -> 1 logit (sigmoid in the loss). Batch norm and leaky ReLU after every convolution;
    pools are 3x3 max-pools with stride 2. The paper does not give channel widths: ``stem`` and
    ``branch_channels`` are our choice (scaled by ``width``).

    Parameters
    ----------
    in_channels
        Input channels.
    stem
        Output channels of the 7x7 and the 3x3 convolutions.
    branch_channels
        Channels of each convolutional branch of the inception blocks.
    width
        Multiplier on ``stem`` and ``branch_channels``.
    negative_slope
        Leaky ReLU slope.
    dropout
        Dropout before the output layer (0: none).
    """

    input_key = "image"
    n_outputs = 1

    def __init__(
        self,
        in_channels: int = 1,
        stem: Sequence[int] = (32, 64),
        branch_channels: int = 32,
        width: float = 1.0,
        negative_slope: float = 0.01,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        c1, c2 = _scale(stem, width)
        (b,) = _scale([branch_channels], width)
        inc1 = InceptionBlock(c2, b, negative_slope)
        inc2 = InceptionBlock(inc1.out_channels, b, negative_slope)
        self.features = nn.Sequential(
            OrderedDict(
                conv1=_conv_bn_act(in_channels, c1, 7, negative_slope),
                pool1=nn.MaxPool2d(3, stride=2, padding=1),
                conv2=_conv_bn_act(c1, c2, 3, negative_slope),
                pool2=nn.MaxPool2d(3, stride=2, padding=1),
                inception1=inc1,
                pool3=nn.MaxPool2d(3, stride=2, padding=1),
                inception2=inc2,
            )
        )
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(inc2.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One logit [B, 1] for images ``x`` [B, C, H, W]."""
        x = self.gap(self.features(x)).flatten(1)
        return self.linear(self.dropout(x))


#: Registry: model name (as in config.yaml) -> network class.
MODELS: dict[str, type[nn.Module]] = {"lstm": LSTMNet, "cnn": CNNNet, "cnn2": CNN2Net}


def model_defaults(name: str) -> dict[str, Any]:
    """Constructor parameters of model ``name`` with their defaults."""
    cls = _lookup(name)
    return {
        p.name: p.default
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self"
    }


def _lookup(name: str) -> type[nn.Module]:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {sorted(MODELS)}") from None


def build_model(name: str, **params: Any) -> nn.Module:
    """Build the network ``name`` (``"lstm"``, ``"cnn"``, ``"cnn2"``) with ``params``.

    Raises
    ------
    ValueError
        For an unknown model name or parameter (the message lists the accepted ones).
    """
    cls = _lookup(name)
    allowed = model_defaults(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"model {name!r} has no parameter(s) {unknown}; accepted: {sorted(allowed)}"
        )
    return cls(**params)


def count_flops(model: nn.Module, input_shape: Sequence[int], backward: bool = False) -> int:
    """Floating-point operations of one pass on a zero input of ``input_shape`` (batch included).

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode` (matrix multiplies and
    convolutions, 2 FLOPs per multiply-add; batch norm, activations and pooling are not counted).

    Parameters
    ----------
    model
        The network (left in the mode it was in).
    input_shape
        Input shape including the batch dimension, e.g. ``(1, 1, 128, 128)``.
    backward
        Also count the backward pass (model in training mode; needs a batch of >= 2 when the model
        has 1-d batch norm).

    Returns
    -------
    int
        FLOPs for the whole batch.
    """
    was_training = model.training
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(tuple(input_shape), device=device)
    model.train(backward)
    try:
        with FlopCounterMode(display=False) as counter:
            if backward:
                model(x).float().sum().backward()
            else:
                with torch.no_grad():
                    model(x)
    finally:
        model.train(was_training)
        if backward:
            model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())
