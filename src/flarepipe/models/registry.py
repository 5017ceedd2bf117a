"""The network registry: every trainable network by name, importable without torch.

A network is registered with

* its class, as a ``"package.module:Class"`` string (imported when a job builds it) or the class;
* the batch entry it reads, ``"sequence"`` [B, T, K] or ``"image"`` [B, C, H, W];
* its training defaults (merged under ``models.<name>.train`` of the configuration);
* the JSON schema of its constructor parameters (``models.<name>.network``), which config
  validation checks before any job runs.

The class must be an ``nn.Module`` returning raw scores, with an ``n_outputs`` attribute: 2 for
class scores (softmax/cross-entropy), 1 for a single logit (sigmoid/BCE).

A new network is one module and one call (or decorator), e.g. in a plug-in listed under
``plugins:`` in the configuration::

    from flarepipe.models import register_network

    @register_network("tiny_mlp", input="sequence",
                      params_schema={"properties": {"hidden": {"type": "integer", "minimum": 1}}})
    class TinyMLP(torch.nn.Module):
        n_outputs = 2
        ...

Registering by string keeps config validation fast:
``register_network("tiny_mlp", "my_lab.nets:TinyMLP", input="sequence")``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flarepipe.core.registry import Registry, call_or_decorate, resolve

__all__ = [
    "INPUTS",
    "NETWORKS",
    "NetworkSpec",
    "build_model",
    "model_defaults",
    "network_class",
    "network_input",
    "network_names",
    "network_spec",
    "register_network",
]

#: Batch entries a network can read.
INPUTS: tuple[str, ...] = ("sequence", "image")


@dataclass(frozen=True)
class NetworkSpec:
    """A registered network.

    Attributes
    ----------
    name : str
        The name configuration files use (``experiments.models``, ``models.<name>``).
    target : str or type
        ``"package.module:Class"`` or the class itself.
    input : str
        Batch entry the network reads (one of :data:`INPUTS`).
    train_defaults : dict
        Training parameters that differ from the schema's shared defaults (``$defs/train``); they
        become the defaults of ``models.<name>.train``.
    params_schema : dict
        JSON schema of the constructor parameters (the ``network`` block).
    auto_bf16 : bool
        Whether ``precision: auto`` may pick bf16-mixed on a bf16-capable GPU.
    min_image_size : int or None
        Smallest square image side the network can take (image networks), checked against
        each model's side (``models.<model>.network.image_size``, default
        ``features.image_size``) before any job runs; None: any.
    description : str
        One line for listings and the schema.
    """

    name: str
    target: Any
    input: str
    train_defaults: dict = field(default_factory=dict)
    params_schema: dict = field(default_factory=lambda: {"type": "object"})
    auto_bf16: bool = True
    min_image_size: int | None = None
    description: str = ""

    def cls(self) -> type:
        """The network class (imports its module on first use)."""
        return resolve(self.target, f"network {self.name!r}")


NETWORKS: Registry[NetworkSpec] = Registry("network", "flarepipe.models.register_network")


def _object_schema(schema: Mapping[str, Any] | None) -> dict:
    out = copy.deepcopy(dict(schema or {}))
    out.setdefault("type", "object")
    if "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


def register_network(
    name: str,
    target: Any = None,
    *,
    input: str,
    params_schema: Mapping[str, Any] | None = None,
    train_defaults: Mapping[str, Any] | None = None,
    auto_bf16: bool = True,
    min_image_size: int | None = None,
    description: str = "",
    replace: bool = False,
) -> Any:
    """Register a network under ``name``; without ``target``, return a class decorator.

    Parameters
    ----------
    name
        Registry name (letters, digits, underscores; starts with a letter).
    target
        ``"package.module:Class"`` (imported lazily) or the class; None to decorate a class.
    input
        ``"sequence"`` or ``"image"``.
    params_schema
        JSON schema of the constructor parameters; with ``properties`` and no
        ``additionalProperties``, unknown parameters are rejected. Default: any object.
    train_defaults
        Per-network training defaults, e.g. ``{"max_epochs": 20, "patience": 5}``.
    auto_bf16
        False keeps ``precision: auto`` at 32-true on GPUs too (tiny, launch-bound networks).
    min_image_size
        Smallest image side an image network takes (e.g. 32 for five 2x2 poolings); config
        validation refuses a model of a smaller image side before any job runs.
    description
        One line.
    replace
        Override a network registered under the same name.

    Returns
    -------
    NetworkSpec or callable
        The spec, or (without ``target``) a decorator that registers and returns the class.

    Raises
    ------
    ValueError
        For a bad name or input kind, or a name already taken.
    """
    if input not in INPUTS:
        raise ValueError(f"network {name!r}: input must be one of {list(INPUTS)}, got {input!r}")

    def make(tgt: Any) -> NetworkSpec:
        spec = NetworkSpec(
            name=name,
            target=tgt,
            input=input,
            train_defaults=dict(train_defaults or {}),
            params_schema=_object_schema(params_schema),
            auto_bf16=bool(auto_bf16),
            min_image_size=None if min_image_size is None else int(min_image_size),
            description=description,
        )
        return NETWORKS.register(name, spec, replace=replace)

    return call_or_decorate(make, target)


def network_spec(name: str) -> NetworkSpec:
    """The registered spec of ``name`` (:class:`~flarepipe.core.registry.UnknownNameError`)."""
    return NETWORKS[name]


def network_names() -> tuple[str, ...]:
    """Registered network names, in registration order."""
    return NETWORKS.names()


def network_class(name: str) -> type:
    """The class of network ``name``."""
    return NETWORKS[name].cls()


def network_input(name: str) -> str:
    """The batch entry network ``name`` reads (``"sequence"`` or ``"image"``)."""
    return NETWORKS[name].input


def model_defaults(name: str) -> dict[str, Any]:
    """Constructor parameters of network ``name`` with their defaults."""
    cls: Callable = network_class(name)
    return {
        p.name: p.default
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def build_model(name: str, **params: Any) -> Any:
    """Build network ``name`` with constructor ``params``.

    ``image_size`` of an image network whose constructor takes none is dropped: it is the side
    of the images the workflow gives the model (the features and shards follow it).

    Raises
    ------
    ValueError
        For an unknown network or parameter (the message lists the accepted ones), or a class
        without a usable ``n_outputs``.
    """
    allowed = model_defaults(name)
    if "image_size" not in allowed and NETWORKS[name].input == "image":
        # the side of the images the model reads (models.<name>.network.image_size): every
        # image network's block takes it; only a network whose layers depend on it is given it
        params = {k: v for k, v in params.items() if k != "image_size"}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"network {name!r} has no parameter(s) {unknown}; accepted: {sorted(allowed)}"
        )
    net = network_class(name)(**params)
    if getattr(net, "n_outputs", None) not in (1, 2):
        raise ValueError(
            f"network {name!r} ({type(net).__name__}) must set n_outputs to 1 (one logit) or 2 "
            f"(class scores), got {getattr(net, 'n_outputs', None)!r}"
        )
    return net


# --------------------------------------------------------------------------------------------
# built-in networks
# --------------------------------------------------------------------------------------------
_N_CLASSES = {"type": "integer", "minimum": 1, "maximum": 2, "description": "output scores"}
_DROPOUT = {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "description": "dropout rate"}
_WIDTH = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": 8,
    "description": "channel multiplier",
}
_IN_CHANNELS = {"type": "integer", "minimum": 1, "description": "input channels"}

register_network(
    "lstm",
    "flarepipe.models.lstm:LSTMNet",
    input="sequence",
    train_defaults={"max_epochs": 20, "patience": 5},  # S1: <= 20 epochs, patience 5
    auto_bf16=False,  # tiny and launch-bound: reduced precision buys nothing
    description="S1 LSTM: stacked LSTM on the keyword sequence, last output -> linear",
    params_schema={
        "properties": {
            "n_features": {"type": "integer", "minimum": 1, "description": "keywords per step"},
            "hidden": {"type": "integer", "minimum": 1, "maximum": 4096, "description": "units"},
            "layers": {"type": "integer", "minimum": 1, "maximum": 16, "description": "layers"},
            "n_classes": _N_CLASSES,
            "dropout": _DROPOUT,
        }
    },
)
register_network(
    "cnn",
    "flarepipe.models.cnn:CNNNet",
    input="image",
    train_defaults={"max_epochs": 20, "patience": 10},  # S1: <= 20 epochs, patience 10
    min_image_size=32,  # five 2x2 max-pools: 32 px leave one pixel
    description="S1 CNN after Li et al. 2020: five convolutions, two linear layers",
    params_schema={
        "properties": {
            "in_channels": _IN_CHANNELS,
            "channels": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 5,
                "maxItems": 5,
                "description": "conv channels",
            },
            "kernels": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 5,
                "maxItems": 5,
                "description": "conv kernels",
            },
            "width": _WIDTH,
            "hidden": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 1,
                "description": "linear layer sizes",
            },
            "dropout": _DROPOUT,
            "pooled_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": 64,
                "description": "adaptive pooling output side",
            },
            "n_classes": _N_CLASSES,
        }
    },
)
# --- S2 (Bhattacharjee et al. 2020): CNN-1, and the identity-activation variants -------------
#: S2's training: BCE with C = 4.5 on positives, minibatch SGD, lr 5e-4, batch 64.
_S2_TRAIN = {
    "max_epochs": 20,
    "patience": 10,
    "pos_weight": 4.5,
    "optimizer": "sgd",
    "lr": 5e-4,
    "batch_size": 64,
}
register_network(
    "cnn2",
    "flarepipe.models.cnn2:CNN2Net",
    input="image",
    train_defaults=_S2_TRAIN,
    description="S2 CNN-2 of Bhattacharjee et al. 2020: inception-style, one logit",
    params_schema={
        "properties": {
            "in_channels": _IN_CHANNELS,
            "stem": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 2,
                "maxItems": 2,
                "description": "channels of the 7x7 and 3x3 convolutions",
            },
            "branch_channels": {
                "type": "integer",
                "minimum": 1,
                "description": "channels of each inception branch",
            },
            "width": _WIDTH,
            "negative_slope": {
                "type": "number",
                "minimum": 0,
                "exclusiveMaximum": 1,
                "description": "leaky ReLU slope",
            },
            "dropout": _DROPOUT,
            "activation": {
                "enum": ["leaky_relu", "identity"],
                "description": "activation after each convolution (identity: S2 appendix)",
            },
        }
    },
)
register_network(
    "yi_densenet",
    "flarepipe.models.densenet:YiDenseNet",
    input="image",
    train_defaults={"max_epochs": 20, "patience": 5},
    min_image_size=64,  # a max-pool and five average pools
    description="S3 DenseNet-like full-disk network of Yi et al. 2021: five dense blocks, 2 scores",
    params_schema={
        "properties": {
            "in_channels": _IN_CHANNELS,
            "stem": {"type": "integer", "minimum": 1, "description": "first conv features"},
            "bottleneck": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 5,
                "maxItems": 5,
                "description": "1x1 conv features of the five dense blocks (13·n)",
            },
            "growth": {"type": "integer", "minimum": 1, "description": "3x3 conv features"},
            "width": _WIDTH,
            "n_classes": _N_CLASSES,
            "dropout": _DROPOUT,
        }
    },
)
register_network(
    "dhuri_fcn",
    "flarepipe.models.fcn:DhuriFCN",
    input="image",
    train_defaults={"max_epochs": 20, "patience": 10},
    auto_bf16=False,
    min_image_size=8,  # depth 1 with unpadded convolutions; deeper ones say their own minimum
    description="S4 fully convolutional VGG-like network of Dhuri et al. 2020: one logit",
    params_schema={
        "properties": {
            "in_channels": _IN_CHANNELS,
            "depth": {"type": "integer", "minimum": 1, "maximum": 5, "description": "blocks"},
            "base_filters": {"type": "integer", "minimum": 1, "description": "first block"},
            "final_filters": {"type": "integer", "minimum": 1, "description": "final layer"},
            "activation": {"enum": ["identity", "relu"], "description": "after each conv"},
            "padding": {"enum": [0, 1], "description": "of the 3x3 convolutions"},
        }
    },
)

_SLOPE = {
    "type": "number",
    "minimum": 0,
    "exclusiveMaximum": 1,
    "description": "leaky ReLU slope",
}


def _s2_cnn1_schema(activation: str) -> dict:
    return {
        "properties": {
            "in_channels": _IN_CHANNELS,
            "channels": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 2,
                "maxItems": 2,
                "description": "channels of the two convolutions",
            },
            "kernels": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 31},
                "minItems": 2,
                "maxItems": 2,
                "description": "kernel sides of the two convolutions",
            },
            "width": _WIDTH,
            "image_size": {
                "type": "integer",
                "minimum": 8,
                "maximum": 1024,
                "description": "input side (default features.image_size; the FC reads every pixel)",
            },
            "negative_slope": _SLOPE,
            "dropout": _DROPOUT,
            "activation": {
                "enum": ["leaky_relu", "identity"],
                "default": activation,
                "description": "activation after each convolution",
            },
        }
    }


def _s2_cnn2_schema(activation: str) -> dict:
    schema = copy.deepcopy(NETWORKS["cnn2"].params_schema)
    schema["properties"]["activation"] = {
        "enum": ["leaky_relu", "identity"],
        "default": activation,
        "description": "activation after each convolution",
    }
    return schema


register_network(
    "cnn1",
    "flarepipe.models.cnn1:CNN1Net",
    input="image",
    train_defaults=_S2_TRAIN,
    min_image_size=8,
    description="S2 CNN-1 of Bhattacharjee et al. 2020: two convolutions, one linear layer",
    params_schema=_s2_cnn1_schema("leaky_relu"),
)
register_network(
    "cnn1_identity",
    "flarepipe.models.cnn1:CNN1Net",
    input="image",
    train_defaults=_S2_TRAIN,
    min_image_size=8,
    description="S2 CNN-1 with identity activations (their appendix)",
    params_schema=_s2_cnn1_schema("identity"),
)
register_network(
    "cnn2_identity",
    "flarepipe.models.cnn2:CNN2Net",
    input="image",
    train_defaults=_S2_TRAIN,
    description="S2 CNN-2 with identity activations (their appendix)",
    params_schema=_s2_cnn2_schema("identity"),
)
