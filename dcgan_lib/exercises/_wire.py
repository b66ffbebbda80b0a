"""Plain data between a check and the learner's code: the one place where the two meet.

A check never holds the learner's objects. It sends the arguments of one call as JSON, the
learner's function runs on them (in the notebook's kernel, or in the same process for a
check cell), and what comes back is JSON again: numbers, strings, lists, dicts with string
keys, tensors and arrays as raw bytes with a dtype and a shape, a module as a description.
Decoding builds exact built-in types and fresh tensors, so an ``int`` subclass whose
``__eq__`` is always true, a ``str`` whose ``strip`` lies, or a tensor subclass arrives as
the plain value it holds.

The grader sends this file's source into the learner's kernel, so it imports only the
standard library at the top, and numpy and torch inside functions.
"""

from __future__ import annotations

import base64
import json

MAX_REPLY = 64 * 2**20  # characters; a larger reply is refused
MAX_ITEMS = 100_000  # elements of one list, tuple or string
DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


class WireError(ValueError):
    """A reply that is not the plain data the protocol allows."""


class Opaque:
    """Stands for a returned object that is not plain data: only its type and repr."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text


class ModuleInfo:
    """A returned ``nn.Module``: its submodules (``modules()`` order) as plain records."""

    def __init__(self, records: list[dict]):
        self.records = records

    def of(self, *qualnames: str) -> list[dict]:
        """The submodules that are instances of one of ``qualnames`` (``torch.nn.X``)."""
        return [r for r in self.records if set(r["mro"]) & set(qualnames)]


class Spec:
    """An argument the learner's side builds itself: ``kind`` with JSON ``params``."""

    def __init__(self, kind: str, shown: str, **params):
        self.kind, self.shown, self.params = kind, shown, params

    def __repr__(self) -> str:
        return self.shown


# ----------------------------------------------------------------- the learner's side


def _tensor_record(array, dtype_name: str, shape) -> dict:
    return {"dtype": dtype_name, "shape": [int(n) for n in shape],
            "data": base64.b64encode(array.tobytes()).decode("ascii")}


def encode(value, depth: int = 0):
    """``value`` as JSON-ready data (never raises: what cannot be sent becomes its repr)."""
    import numpy as np
    import torch

    try:
        if value is None or value is True or value is False:
            return value
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, int):
            return int.__int__(value)
        if isinstance(value, float):
            return float.__float__(value)
        if isinstance(value, str):
            text = str.__str__(value)
            return text if len(text) <= MAX_ITEMS else text[:MAX_ITEMS]
        if depth > 8:
            raise TypeError("too deep")
        if isinstance(value, torch.Tensor):
            data = value.detach().cpu().contiguous()
            name = str(data.dtype).replace("torch.", "")
            if name == "bfloat16":
                data, name = data.float(), "float32"
            if name not in DTYPES:
                raise TypeError(name)
            record = _tensor_record(data.numpy(), name, data.shape)
            record["requires_grad"] = bool(value.requires_grad)
            return {"tensor": record}
        if isinstance(value, np.ndarray):
            if value.dtype.name not in DTYPES:
                raise TypeError(value.dtype.name)
            return {"ndarray": _tensor_record(np.ascontiguousarray(value), value.dtype.name,
                                              value.shape)}
        if isinstance(value, np.generic) and value.dtype.name in DTYPES:
            return {"npscalar": [value.dtype.name, encode(value.item(), depth + 1)]}
        if isinstance(value, list | tuple):
            if len(value) > MAX_ITEMS:
                raise TypeError("too long")
            items = [encode(v, depth + 1) for v in value]
            return items if isinstance(value, list) else {"tuple": items}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            if len(value) > MAX_ITEMS:
                raise TypeError("too long")
            return {"dict": [[str.__str__(k), encode(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, torch.nn.Module):
            return {"module": [_module_record(m) for m in value.modules()][:1000]}
    except Exception:  # anything odd is sent as what it is not: an opaque object
        pass
    try:
        text = repr(value)
        text = text if len(text) <= 60 else text[:57] + "..."
    except Exception:
        text = "<an object whose repr fails>"
    return {"object": [type(value).__name__, text]}


def _module_record(module) -> dict:
    import torch

    record = {"mro": [f"{c.__module__}.{c.__qualname__}" for c in type(module).__mro__]}
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                 "negative_slope", "num_features", "eps", "affine"):
        if hasattr(module, attr):
            record[attr] = encode(getattr(module, attr), 1)
    if isinstance(module, torch.nn.Conv2d):
        record["has_bias"] = module.bias is not None
        record["weight"] = encode(module.weight, 1)
    return record


def _build(data, leaves: list):
    """Decode one argument, building the objects a Spec names."""
    import torch

    if isinstance(data, dict) and "spec" in data:
        kind, params = data["spec"]
        if kind == "leaf":  # a tensor the gradient is taken with respect to
            leaf = decode(params["tensor"]).requires_grad_(True)
            leaves.append(leaf)
            return leaf
        if kind == "tanh_of_leaf":  # stands for G(z): attached to a graph behind it
            leaf = decode(params["tensor"]).requires_grad_(True)
            leaves.append(leaf)
            return torch.tanh(leaf)
        if kind == "generator":
            return torch.Generator().manual_seed(int(params["seed"]))
        if kind == "layer":
            return _layer(params["name"])
        if kind == "activation":
            return _activation(params["name"])
        if kind == "discriminator":
            from dcgan_lib.models import Discriminator

            net = Discriminator(**params["config"])
            with torch.no_grad():
                for (_, p), weights in zip(net.named_parameters(), params["weights"],
                                           strict=True):
                    p.copy_(decode(weights))
            return net
        if kind == "conv2d":  # a first layer: its filters, stride and padding, no bias
            weight = decode(params["weight"])
            conv = torch.nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]),
                                   int(params["stride"]), int(params["padding"]), bias=False)
            with torch.no_grad():
                conv.weight.copy_(weight)
            return conv
        if kind == "dcgan_generator":  # parameters and BatchNorm's running statistics
            from dcgan_lib.models import Generator

            net = Generator(**params["config"])
            state = net.state_dict()
            net.load_state_dict({name: decode(value) for name, value in
                                 zip(state, params["state"], strict=True)})
            return net.eval()
        raise WireError(f"unknown argument kind {kind!r}")
    return decode(data)


def _layer(name: str):
    """The layers exercise 3.3 asks about, built by name, in evaluation mode. Two of them
    defeat a test of the layer's type: a BatchNorm2d that never looks at its batch and a
    layer with no normalisation in it that does."""
    import torch
    from torch import nn

    class ReferenceBatchNorm2d(nn.BatchNorm2d):
        """A BatchNorm2d that normalises with the statistics of one fixed reference batch,
        the idea behind virtual batch normalisation (Salimans et al. 2016)."""

        def __init__(self, channels):
            super().__init__(channels)
            reference = torch.randn(16, channels, 8, 8,
                                    generator=torch.Generator().manual_seed(0)) * 2 + 1
            self.register_buffer("reference_mean", reference.mean(dim=(0, 2, 3)))
            self.register_buffer("reference_var", reference.var(dim=(0, 2, 3)))

        def forward(self, x):
            return nn.functional.batch_norm(x, self.reference_mean, self.reference_var,
                                            self.weight, self.bias, False, 0.0, self.eps)

    class MinibatchStd(nn.Module):
        """Appends the batch's mean standard deviation as a channel (Karras et al. 2018):
        the discriminator sees how varied its batch is, so a sample's output depends on
        its batch mates by design."""

        def forward(self, x):
            spread = x.std(dim=0).mean()
            return torch.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], dim=1)

    layers = {
        "ReferenceBatchNorm2d": lambda: ReferenceBatchNorm2d(3),
        "Sequential(Conv2d, MinibatchStd)": lambda: nn.Sequential(
            nn.Conv2d(3, 3, 3, padding=1), MinibatchStd()),
        "BatchNorm2d": lambda: nn.BatchNorm2d(3),
        "InstanceNorm2d": lambda: nn.InstanceNorm2d(3, affine=True),
        "GroupNorm": lambda: nn.GroupNorm(1, 3),
        "Identity": lambda: nn.Identity(),
        "Sequential(Conv2d, BatchNorm2d, ReLU)": lambda: nn.Sequential(
            nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU()),
        "Sequential(Conv2d, GroupNorm)": lambda: nn.Sequential(
            nn.Conv2d(3, 3, 3, padding=1), nn.GroupNorm(3, 3)),
    }
    return layers[name]().eval()


def _activation(name: str):
    """The elementwise activations exercise 2.2 measures, built by name."""
    import torch
    import torch.nn.functional as F

    if name.startswith("LeakyReLU("):
        slope = float(name[len("LeakyReLU("):-1])
        return lambda a: F.leaky_relu(a, slope)
    return {"tanh": torch.tanh, "softplus": F.softplus, "SiLU": F.silu}[name]


def _pick(value, path):
    for index in path:
        value = value[index]
    return value


def handle(namespace: dict, request: str) -> str:
    """Run one request on the learner's side: call ``namespace[name]`` on the decoded
    arguments and return the JSON reply (what it returned, or what it raised)."""
    import torch

    req = json.loads(request)
    name = req["name"]
    if name not in namespace:
        return json.dumps({"missing": name})
    fn = namespace[name]
    if not callable(fn):
        return json.dumps({"not_callable": type(fn).__name__})
    leaves: list = []
    args = [_build(a, leaves) for a in req["args"]]
    kwargs = {k: _build(v, leaves) for k, v in req["kwargs"].items()}
    inputs = [*args, *kwargs.values()]
    before = [x.detach().clone() if isinstance(x, torch.Tensor) else None for x in inputs]
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        return json.dumps({"not_attempted": True})
    except Exception as error:
        return json.dumps({"raised": [type(error).__name__, str(error)[:300]]})
    reply = {"value": encode(out), "mutated": [
        b is not None and not (x.shape == b.shape and torch.equal(x.detach(), b))
        for x, b in zip(inputs, before, strict=True)]}
    if req.get("forward") is not None and isinstance(out, torch.nn.Module):
        try:
            out.train()
            reply["forward"] = encode(out(decode(req["forward"])))
        except Exception as error:
            reply["forward_raised"] = [type(error).__name__, str(error)[:300]]
    if req.get("grad_of") is not None:
        reply["grads"] = None
        try:
            target = _pick(out, req["grad_of"])
            if isinstance(target, torch.Tensor) and target.requires_grad:
                grads = torch.autograd.grad(target.sum(), leaves, allow_unused=True)
                reply["grads"] = [None if g is None else encode(g) for g in grads]
        except Exception as error:
            reply["grad_raised"] = [type(error).__name__, str(error)[:300]]
    return json.dumps(reply)


# ------------------------------------------------------------------- the check's side


def encode_argument(value):
    """A check's argument on the wire: a Spec, or plain data."""
    if isinstance(value, Spec):
        return {"spec": [value.kind, {k: _params(v) for k, v in value.params.items()}]}
    return encode(value)


def _params(value):
    if isinstance(value, list):
        return [_params(v) for v in value]
    if isinstance(value, dict):
        return value
    return encode(value)


def request(name: str, args, kwargs, grad_of=None, forward=None) -> str:
    return json.dumps({"name": name, "args": [encode_argument(a) for a in args],
                       "kwargs": {k: encode_argument(v) for k, v in kwargs.items()},
                       "grad_of": None if grad_of is None else list(grad_of),
                       "forward": None if forward is None else encode(forward)})


def parse_reply(text) -> dict:
    """The learner's reply as a dict of decoded values; ``WireError`` if it is not one."""
    if type(text) is not str or len(text) > MAX_REPLY:
        raise WireError("the reply is not a string of at most "
                        f"{MAX_REPLY // 2**20} MiB")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise WireError(f"the reply is not JSON: {error}") from None
    if type(data) is not dict:
        raise WireError("the reply is not a JSON object")
    return data


def decode(data):
    """Plain data from the wire as exact built-in types, numpy scalars and arrays, fresh
    tensors, ``ModuleInfo`` or ``Opaque``; ``WireError`` for anything else."""
    import numpy as np
    import torch

    kind = type(data)
    if data is None or kind in (bool, int, str):
        return data
    if kind is float:  # json.loads only makes floats from a bare number
        return data
    if kind is list:
        return [decode(v) for v in data]
    if kind is not dict or len(data) != 1:
        raise WireError(f"unexpected {kind.__name__} on the wire")
    ((tag, body),) = data.items()
    if tag == "tuple":
        return tuple(decode(v) for v in _list(body))
    if tag == "dict":  # str keys only
        pairs = [_list(pair) for pair in _list(body)]
        if any(len(pair) != 2 or type(pair[0]) is not str for pair in pairs):
            raise WireError("a dict whose keys are not strings")
        return {key: decode(value) for key, value in pairs}
    if tag in ("tensor", "ndarray"):
        array = _array(body)
        if tag == "ndarray":
            return array
        tensor = torch.from_numpy(array)
        if body.get("requires_grad") is True and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return tensor
    if tag == "npscalar":
        dtype, value = _list(body)
        if dtype not in DTYPES:
            raise WireError(f"unexpected dtype {dtype!r}")
        return np.dtype(dtype).type(decode(value))
    if tag == "module":
        return ModuleInfo([_module(r) for r in _list(body)])
    if tag == "object":
        type_name, text = _list(body)
        return Opaque(str(type_name), str(text))
    raise WireError(f"unexpected tag {tag!r} on the wire")


def _list(body) -> list:
    if type(body) is not list:
        raise WireError("expected a list on the wire")
    return body


def _array(body):
    import numpy as np

    if type(body) is not dict or body.get("dtype") not in DTYPES:
        raise WireError("a tensor without a known dtype")
    shape = [int(n) for n in _list(body["shape"]) if type(n) is int and n >= 0]
    if len(shape) != len(body["shape"]) or len(shape) > 8:
        raise WireError("a tensor with a bad shape")
    raw = base64.b64decode(str(body["data"]), validate=True)
    dtype = np.dtype(body["dtype"])
    count = 1
    for n in shape:
        count *= n
    if len(raw) != count * dtype.itemsize:
        raise WireError("a tensor whose data does not fit its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _module(record) -> dict:
    if type(record) is not dict:
        raise WireError("a module record that is not an object")
    out = {"mro": [str(n) for n in _list(record.get("mro", []))]}
    for key, value in record.items():
        if key != "mro":
            out[str(key)] = decode(value)
    return out
