"""Per-layer cost analysis: activation memory, parameters, MACs and FLOPs.

Two counting conventions, both with batch size 1 unless ``batch_size`` says otherwise:

- ``macs``: multiply-accumulates of the convolution (plain, grouped, depthwise, separable,
  transposed) and dense layers only, biases excluded. This is the convention of the MAC column of
  ``docs/reference_counts.md``: for VGG16 at 224x224 it is the 15,346,630,656 of the 13
  convolutions plus the 123,633,664 of the three dense layers, 15,470,264,320 in all.
- ``flops``: one multiply-add = one FLOP, the convention of the worked figures in
  ``docs/reference_counts.md``. It is ``macs`` plus the work of the layers they also count:
  pooling (output elements x window area, e.g. AlexNet's pool1 3x3/2 on 64x55x55 -> 64x27x27 =
  419,904), global pooling (input elements), local response normalization (output elements x
  window depth, the sum of squares), and element-wise merges (``Add``, ``Multiply``,
  ``Average``, ...: (inputs - 1) x output elements). Batch normalization (folded into the
  preceding convolution at inference), activations, dropout, padding, reshaping
  and concatenation count 0.

The layer calls are read from the model's functional graph through public Keras APIs
(``get_config()``, ``operations``, ``compute_output_spec``); a composite layer's sub-layer calls
are found by calling it on ``keras.Input``s.

Activation memory is the output of each layer (the model's inputs included) in float32:
elements x 4 bytes / 1024 = KB, times the batch size. Parameters follow ``model.count_params()``
(batch-norm moving statistics included); a layer shared by several calls is counted once.
"""

import csv
import dataclasses
import importlib
import inspect
import json
import math
import os
import warnings

import keras

from keras_arches.layers import LocalResponseNormalization, SqueezeExcite
from keras_arches.layers.connection_table import ConnectionTableConv2D

BYTES_PER_ELEMENT = 4

_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSED_CONVS = (
    keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose
)
_DEPTHWISE_CONVS = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE_CONVS = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
_POOLS = (
    keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.MaxPooling3D,
    keras.layers.AveragePooling1D, keras.layers.AveragePooling2D, keras.layers.AveragePooling3D,
)
_GLOBAL_POOLS = (
    keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D, keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D, keras.layers.GlobalMaxPooling3D,
)
_MERGES = (
    keras.layers.Add, keras.layers.Subtract, keras.layers.Multiply, keras.layers.Average,
    keras.layers.Maximum, keras.layers.Minimum,
)


@dataclasses.dataclass(frozen=True)
class LayerProfile:
    """One row of a :class:`Profile`: a layer call (or a sub-layer of a composite layer)."""

    name: str
    type: str
    output_shape: tuple
    memory_kb: float
    params: int
    macs: int
    flops: int


_COLUMNS = ("layer", "type", "output shape", "memory (KB)", "params", "MACs", "FLOPs")


def _shape_text(shape):
    return "x".join(str(d) for d in shape)


class Profile:
    """The per-layer cost table of a model (see the module docstring for the conventions).

    ``rows`` is a list of :class:`LayerProfile`; ``params``, ``macs``, ``flops`` and
    ``memory_kb`` are the totals. ``to_csv(path)``, ``to_markdown()`` and ``str()`` render it.
    """

    def __init__(self, name, rows, batch_size=1):
        self.name = name
        self.rows = list(rows)
        self.batch_size = batch_size

    @property
    def params(self):
        return sum(r.params for r in self.rows)

    @property
    def macs(self):
        return sum(r.macs for r in self.rows)

    @property
    def flops(self):
        return sum(r.flops for r in self.rows)

    @property
    def memory_kb(self):
        return sum(r.memory_kb for r in self.rows)

    def __getitem__(self, name):
        """The first row named ``name`` (a shared layer has one row per call)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"No layer named {name!r} in the profile of {self.name!r}.")

    def _table(self):
        body = [
            (r.name, r.type, _shape_text(r.output_shape), f"{r.memory_kb:,.2f}", f"{r.params:,d}",
             f"{r.macs:,d}", f"{r.flops:,d}")
            for r in self.rows
        ]
        total = ("total", "", "", f"{self.memory_kb:,.2f}", f"{self.params:,d}", f"{self.macs:,d}",
                 f"{self.flops:,d}")
        return body, total

    def to_markdown(self):
        """A GitHub markdown table, one row per layer and a bold total row."""
        body, total = self._table()
        lines = [
            "| " + " | ".join(_COLUMNS) + " |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        lines.append("| " + " | ".join(f"**{c}**" if c else "" for c in total) + " |")
        return "\n".join(lines) + "\n"

    def to_csv(self, path):
        """Writes the rows (raw numbers, no thousands separators) and a total row to ``path``."""
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["layer", "type", "output_shape", "memory_kb", "params", "macs", "flops"]
            )
            for r in self.rows:
                writer.writerow([r.name, r.type, _shape_text(r.output_shape), r.memory_kb, r.params,
                                 r.macs, r.flops])
            writer.writerow(["total", "", "", self.memory_kb, self.params, self.macs, self.flops])
        return path

    def summary(self):
        """The totals as a plain dict (what the complexity chart caches)."""
        return {
            "name": self.name,
            "batch_size": self.batch_size,
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "memory_kb": self.memory_kb,
        }

    def __str__(self):
        body, total = self._table()
        table = [_COLUMNS, *body, total]
        widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
        right = {3, 4, 5, 6}

        def line(row):
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip()

        rule = "-" * len(line(table[0]))
        title = f"{self.name} (batch {self.batch_size}; 1 multiply-add = 1 FLOP)"
        return "\n".join([title, line(table[0]), rule, *map(line, body), rule, line(total)])

    def __repr__(self):
        return (f"<Profile {self.name}: {self.params:,d} params, {self.macs:,d} MACs, "
                f"{self.flops:,d} FLOPs, {self.memory_kb:,.1f} KB>")


# --------------------------------------------------------------------------- counting


def _elements(shape):
    return math.prod(int(d) for d in shape)


def _channel_axis(layer):
    """The channel axis of a layer's shapes without their batch dimension."""
    return 0 if getattr(layer, "data_format", "channels_last") == "channels_first" else -1


def _leaf_cost(layer, in_shapes, out_shape):
    """(macs, flops_other) of one call of a layer without sub-layers; shapes exclude the batch."""
    out = _elements(out_shape)
    if isinstance(layer, _SEPARABLE_CONVS):
        cin = int(in_shapes[0][_channel_axis(layer)])
        depth = cin * layer.depth_multiplier
        spatial = out // int(out_shape[_channel_axis(layer)])
        return spatial * depth * math.prod(layer.kernel_size) + out * depth, 0
    if isinstance(layer, _DEPTHWISE_CONVS):
        return out * math.prod(layer.kernel_size), 0
    if isinstance(layer, _TRANSPOSED_CONVS):
        # Every input element is scattered through a kernel to every output channel.
        return _elements(in_shapes[0]) * layer.filters * math.prod(layer.kernel_size), 0
    if isinstance(layer, _CONVS):
        cin = int(in_shapes[0][_channel_axis(layer)])
        return out * (cin // layer.groups) * math.prod(layer.kernel_size), 0
    if isinstance(layer, ConnectionTableConv2D):
        # Only the table's connections are multiplied; the gathered zeros are not work.
        spatial = out // len(layer.connections)
        return spatial * math.prod(layer.kernel.shape), 0
    if isinstance(layer, keras.layers.Dense):
        return out * int(in_shapes[0][-1]), 0
    if isinstance(layer, _POOLS):
        return 0, out * math.prod(layer.pool_size)
    if isinstance(layer, _GLOBAL_POOLS):
        return 0, _elements(in_shapes[0])
    if isinstance(layer, LocalResponseNormalization):
        return 0, out * (2 * layer.depth_radius + 1)
    if isinstance(layer, _MERGES):
        return 0, out * (len(in_shapes) - 1)
    return 0, 0


def _own_extra_cost(layer, in_shapes, out_shape):
    """Work a composite layer does outside its sub-layers (keras.ops in its ``call``)."""
    if isinstance(layer, SqueezeExcite):
        # ops.mean over the spatial axes, then the gate times the input.
        return 0, _elements(in_shapes[0]) + _elements(out_shape)
    return 0, 0


def _has_sublayers(layer):
    """Whether ``layer`` holds other layers in its attributes (a composite such as FireModule)."""
    for value in vars(layer).values():
        if isinstance(value, dict):
            value = list(value.values())
        items = value if isinstance(value, (list, tuple)) else (value,)
        if any(isinstance(item, keras.layers.Layer) and item is not layer for item in items):
            return True
    return False


def _functional(model):
    """``model`` as a functional graph: itself, a built Sequential's layers, else None."""
    if isinstance(model, keras.Sequential):
        try:
            inputs, outputs = model.inputs, model.outputs
        except AttributeError:  # not built yet: no graph
            return None
        return keras.Model(inputs, outputs, name=model.name)
    return model if isinstance(model, keras.Function) else None


def _static(shape, where):
    dims = tuple(shape)[1:]
    if any(d is None for d in dims):
        raise ValueError(
            f"Cannot profile {where}: its shape {tuple(shape)} has an unknown dimension besides "
            "the batch. Build the model with a fixed input_shape, e.g. input_shape=(224, 224, 3)."
        )
    return tuple(int(d) for d in dims)


# A functional model's ``get_config()`` lists every call of every layer ("inbound_nodes") with
# its arguments; a tensor argument is serialized as {"class_name": "__keras_tensor__", "config":
# {"shape": ..., "keras_history": [layer name, call index, output index]}}.
_TENSOR = "__keras_tensor__"


def _is_tensor(value):
    return isinstance(value, dict) and value.get("class_name") == _TENSOR


def _serialized_tensors(structure):
    if _is_tensor(structure):
        return [structure]
    values = structure.values() if isinstance(structure, dict) else structure
    if isinstance(structure, (dict, list, tuple)):
        return [t for value in values for t in _serialized_tensors(value)]
    return []


def _rebuild(structure, tensor):
    """Serialized call arguments with each tensor replaced by ``tensor(its keras_history)``."""
    if _is_tensor(structure):
        return tensor(tuple(structure["config"]["keras_history"]))
    if isinstance(structure, (list, tuple)):
        return type(structure)(_rebuild(value, tensor) for value in structure)
    if isinstance(structure, dict):
        if "class_name" in structure:  # another serialized object, e.g. a NumPy array
            return keras.saving.deserialize_keras_object(structure)
        return {key: _rebuild(value, tensor) for key, value in structure.items()}
    return structure


def _history_leaves(structure):
    """The [name, call, output] triples of a config's "input_layers" or "output_layers", in the
    order of ``model.inputs`` / ``model.outputs`` (dictionaries by sorted key)."""
    if isinstance(structure, (list, tuple)) and len(structure) == 3 and isinstance(
        structure[0], str
    ):
        return [tuple(structure)]
    if isinstance(structure, dict):
        structure = [structure[key] for key in sorted(structure)]
    return [leaf for value in structure for leaf in _history_leaves(value)]


def _tensors(structure):
    return [t for t in keras.tree.flatten(structure) if isinstance(t, keras.KerasTensor)]


def _calls(graph, inputs, config):
    """Every call in the functional ``graph`` (``config`` is its ``get_config()``) as
    (operation, (args, kwargs), outputs), ``inputs`` first as (input layer, None, [tensor]).

    ``inputs`` are KerasTensors in the order of ``graph.inputs``; the other shapes are
    propagated from them with each operation's ``compute_output_spec``, so a nested model is
    costed at the shapes it is called with. The order is keras' own: by distance from the
    outputs, farthest first, then by the order of ``graph.operations``.
    """
    operations = {op.name: op for op in graph.operations}
    position, calls = {}, {}
    for index, layer_config in enumerate(config["layers"]):
        name = layer_config["name"]
        if isinstance(operations[name], keras.layers.InputLayer):
            position[(name, 0)], calls[(name, 0)] = index, None
        for call_index, call in enumerate(layer_config["inbound_nodes"]):
            position[(name, call_index)], calls[(name, call_index)] = index, call
    sources = {key: [] for key in calls}
    consumers = dict.fromkeys(calls, 0)
    for key, call in calls.items():
        for tensor in _serialized_tensors(call or []):
            source = tuple(tensor["config"]["keras_history"][:2])
            sources[key].append(source)
            consumers[source] += 1
    ready = [key for key, count in consumers.items() if count == 0]
    depth = dict.fromkeys(ready, 0)
    while ready:
        key = ready.pop()
        for source in sources[key]:
            depth[source] = max(depth.get(source, 0), depth[key] + 1)
            consumers[source] -= 1
            if consumers[source] == 0:
                ready.append(source)

    tensors = dict(zip(_history_leaves(config["input_layers"]), inputs))
    for key in sorted(calls, key=lambda key: (-depth[key], position[key], key[1])):
        operation, call = operations[key[0]], calls[key]
        if call is None:
            yield operation, None, [tensors[(*key, 0)]]
            continue
        args = _rebuild(call["args"], tensors.__getitem__)
        kwargs = _rebuild(call["kwargs"], tensors.__getitem__)
        outputs = _tensors(operation.compute_output_spec(*args, **kwargs))
        tensors.update({(*key, i): output for i, output in enumerate(outputs)})
        yield operation, (args, kwargs), outputs


def _trace(layer, arguments):
    """One call of ``layer.call`` on fresh ``keras.Input``s shaped like ``arguments``, as a
    functional model: its sub-layer calls (and ``keras.ops`` calls) become the model's nodes.
    Returns the model, its config, and whether every output comes out of a sub-layer (else the
    layer makes a tensor of its own)."""
    inputs = []

    def placeholder(value):
        if not isinstance(value, keras.KerasTensor):
            return value
        name = f"{layer.name}_traced_input_{len(inputs)}"
        inputs.append(keras.Input(batch_shape=value.shape, dtype=value.dtype, name=name))
        return inputs[-1]

    args, kwargs = keras.tree.map_structure(placeholder, arguments)
    parameters = inspect.signature(layer.call).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        kwargs = {key: value for key, value in kwargs.items() if key in parameters}
    traced = keras.Model(inputs, layer.call(*args, **kwargs), name=f"{layer.name}_traced")
    config = traced.get_config()
    operations = {op.name: op for op in traced.operations}
    produced = all(
        isinstance(operations[name], keras.layers.Layer)
        and not isinstance(operations[name], keras.layers.InputLayer)
        for name, _, _ in _history_leaves(config["output_layers"])
    )
    return traced, config, produced


class _Counter:
    def __init__(self, batch_size):
        self.batch_size = batch_size
        self.rows = []
        self.seen = set()

    def params_once(self, layer, amount):
        if id(layer) in self.seen:
            return 0
        self.seen.add(id(layer))
        return amount

    def add(self, name, layer_type, out_shape, params, macs, flops_other, memory=True):
        b = self.batch_size
        kb = _elements(out_shape) * BYTES_PER_ELEMENT / 1024 * b if memory else 0.0
        self.rows.append(LayerProfile(name, layer_type, tuple(out_shape), kb, int(params),
                                      int(macs) * b, (int(macs) + int(flops_other)) * b))

    def graph(self, graph, inputs, prefix, top):
        """Counts every call of a functional graph fed with the KerasTensors ``inputs``."""
        for layer, arguments, outputs in _calls(graph, inputs, graph.get_config()):
            if arguments is not None:
                self.call(layer, prefix + layer.name, arguments, outputs)
            elif top:  # a nested model's inputs are its caller's tensors, counted there
                shape = _static(outputs[0].shape, f"input {layer.name!r}")
                self.add(prefix + layer.name, "InputLayer", shape, 0, 0, 0)

    def call(self, layer, name, arguments, outputs):
        nested = _functional(layer) if isinstance(layer, keras.Model) else None
        if nested is not None:
            args, kwargs = arguments
            self.graph(nested, _tensors(args) or _tensors(kwargs.get("inputs")), name + "/",
                       top=False)
            return
        where = f"layer {layer.name!r}"
        ins = [_static(t.shape, f"the input of {where}") for t in _tensors(arguments)]
        outs = [_static(t.shape, f"the output of {where}") for t in outputs]
        if isinstance(layer, keras.Model) or _has_sublayers(layer):
            self.composite(layer, name, arguments, ins, outs)
            return
        params = layer.count_params() if isinstance(layer, keras.layers.Layer) else 0
        macs, other = _leaf_cost(layer, ins, outs[0])
        self.add(name, type(layer).__name__, outs[0], self.params_once(layer, params), macs, other)
        for extra in outs[1:]:  # a layer with several outputs: the memory of each
            self.add(name, type(layer).__name__, extra, 0, 0, 0)

    def composite(self, layer, name, arguments, ins, outs):
        """A layer with sub-layers: trace its call and count every sub-layer call."""
        try:
            traced, config, produced = _trace(layer, arguments)
            calls = list(_calls(traced, traced.inputs, config))
        except Exception as error:  # an exotic call(): count the layer whole, and say so
            warnings.warn(f"profile(): could not trace {name!r} ({type(layer).__name__}): {error}; "
                          "its sub-layers' operations are not counted.", UserWarning, stacklevel=3)
            self.add(name, type(layer).__name__, outs[0],
                     self.params_once(layer, layer.count_params()), 0, 0)
            return
        before = len(self.rows)
        sub_params = 0
        for sub, sub_arguments, sub_outputs in calls:
            # The traced inputs are the caller's; keras.ops outside sub-layers are not counted.
            if sub_arguments is None or not isinstance(sub, keras.layers.Layer):
                continue
            if id(sub) not in self.seen:
                sub_params += sub.count_params()
            self.call(sub, f"{name}/{sub.name}", sub_arguments, sub_outputs)
        own_params = self.params_once(layer, max(layer.count_params() - sub_params, 0))
        macs, other = _own_extra_cost(layer, ins, outs[0])
        if own_params or macs or other or not produced or len(self.rows) == before:
            self.add(name, type(layer).__name__, outs[0], own_params, macs, other,
                     memory=not produced)


def profile(model, batch_size=1):
    """Per-layer memory, parameters, MACs and FLOPs of a built Keras model.

    ``model`` is a Functional or Sequential model with a fixed input size (a nested model is
    expanded into its layers, rows named ``"outer/inner"``; a composite custom layer such as
    ``FireModule`` is traced into its sub-layers; ``keras.ops`` arithmetic outside sub-layers is
    not counted, except ``SqueezeExcite``'s mean and gating). Tracing calls a composite layer's
    ``call`` on ``keras.Input``s, which records those calls on its sub-layers as any functional
    model does. ``batch_size`` multiplies the activation memory, MACs and FLOPs (not the
    parameters). Conventions: see :mod:`keras_arches.analysis`; ``Profile.macs`` is the MAC
    column of ``docs/reference_counts.md``, ``Profile.flops`` the FLOPs of its worked figures.
    Returns a :class:`Profile`.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
        )
    if not isinstance(model, keras.Model):
        raise ValueError(f"profile() expects a keras.Model. Received: {type(model).__name__}")
    graph = _functional(model)
    if graph is None and isinstance(model, keras.Sequential):
        raise ValueError(
            f"Sequential model {model.name!r} has no input shape yet: give it a keras.Input "
            "(or build it) before profiling."
        )
    if graph is None:
        raise ValueError(
            f"profile() needs a Functional or Sequential model; {model.name!r} is a subclassed "
            f"{type(model).__name__}. Wrap it: keras.Model(inputs, model(inputs))."
        )
    counter = _Counter(batch_size)
    counter.graph(graph, graph.inputs, "", top=True)
    return Profile(model.name, counter.rows, batch_size)


# --------------------------------------------------------------------------- diagrams


def _graphviz_missing():
    """Why ``keras.utils.plot_model`` cannot run here, or None when it can."""
    for module in ("pydot", "pydot_ng", "pydotplus"):  # pydot and the forks keras accepts
        try:
            pydot = importlib.import_module(module)
            break
        except ImportError:
            continue
    else:
        return "pydot is not installed (pip install pydot)"
    try:
        pydot.Dot.create(pydot.Dot())  # draws an empty graph with graphviz' `dot`
    except Exception:
        return "the graphviz `dot` program is not installed (e.g. apt-get install graphviz)"
    return None


def plot_diagram(model, path, **kwargs):
    """Draws ``model`` with ``keras.utils.plot_model`` (shapes and layer names shown).

    Needs pydot and graphviz; without them nothing is drawn, a ``UserWarning`` says what is
    missing and the function returns None. Otherwise returns ``path``. ``kwargs`` go to
    ``plot_model``.
    """
    missing = _graphviz_missing()
    if missing:
        warnings.warn(f"Model diagram {path} skipped: {missing}.", UserWarning, stacklevel=2)
        return None
    kwargs.setdefault("show_shapes", True)
    kwargs.setdefault("show_layer_names", True)
    keras.utils.plot_model(model, to_file=str(path), **kwargs)
    return path


# --------------------------------------------------------------------------- complexity chart

def published_top1():
    """``{name: (top-1 %, source)}`` for every model card with a published ImageNet top-1."""
    from keras_arches import registry

    return {c.name: c.published_top1 for c in registry.cards() if c.published_top1}


def _default_cache():
    root = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(root, "keras_arches", "profiles.json")


def _load_cache(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def profile_registered(names=None, cache=None):
    """Totals (``Profile.summary()`` dicts) of registered models at their default size.

    Building the large models takes a while, so results are cached in the JSON file ``cache``
    (default ``~/.keras/keras_arches/profiles.json``), keyed by name and default size.
    Auxiliary heads are stripped: the inference model is what is measured.
    """
    from keras_arches import registry
    from keras_arches.arch_model import strip_auxiliary

    cache = cache or _default_cache()
    stored = _load_cache(cache)
    names = registry.list_models() if names is None else list(names)
    results, changed = {}, False
    for name in names:
        info = registry.model_info(name)
        key = f"{info.name}@{info.default_size}"
        if key not in stored:
            model = strip_auxiliary(registry.get_model(info.name, weights=None))
            stored[key] = profile(model).summary()
            changed = True
            del model
            keras.backend.clear_session()
        results[info.name] = stored[key]
    if changed:
        os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
        with open(cache, "w") as handle:
            json.dump(stored, handle, indent=1, sort_keys=True)
    return results


def complexity_chart(path, models=None, accuracy=None, cache=None):
    """The lecture's "comparing complexity" plot as a PNG at ``path``.

    ``models``: registry names (default: every registered model, profiled at its default size
    through the ``cache`` of :func:`profile_registered`) and/or :class:`Profile` objects.
    Left panel: GFLOPs (lecture convention) against millions of parameters for every model.
    Right panel, for the models with a figure in ``accuracy`` (default: the cards'
    :func:`published_top1`, name -> top-1 % or (top-1 %, source)): top-1 against GFLOPs,
    bubble area = parameters.
    Returns ``path``.
    """
    # A Figure with its own Agg canvas: the caller's matplotlib backend and pyplot state
    # stay as they were.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    accuracy = published_top1() if accuracy is None else accuracy
    if models is None:
        summaries = profile_registered(cache=cache)
    else:
        names = [m for m in models if not isinstance(m, Profile)]
        summaries = profile_registered(names, cache=cache) if names else {}
        summaries.update({m.name: m.summary() for m in models if isinstance(m, Profile)})
    if not summaries:
        raise ValueError("complexity_chart() needs at least one model to plot.")

    ranked = [n for n in summaries if n in accuracy]
    figure = Figure(figsize=(15 if ranked else 8, 6.5))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2 if ranked else 1, squeeze=False)
    left = axes[0][0]
    for name, s in summaries.items():
        x, y = s["params"] / 1e6, s["flops"] / 1e9
        left.scatter(x, y, s=40, alpha=0.7)
        left.annotate(name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    params = [s["params"] for s in summaries.values()]
    flops = [max(s["flops"], 1) for s in summaries.values()]
    # SqueezeNet to VGG spans two orders of magnitude: a log axis keeps both readable.
    if max(params) > 20 * max(min(params), 1):
        left.set_xscale("log")
    if max(flops) > 20 * min(flops):
        left.set_yscale("log")
    left.set_xlabel("parameters (millions)")
    left.set_ylabel("GFLOPs per image (1 multiply-add = 1 FLOP)")
    left.set_title("Complexity of the registered models")
    left.grid(alpha=0.3)
    if ranked:
        right = axes[0][1]
        for name in ranked:
            figure_ = accuracy[name]
            top1 = figure_[0] if isinstance(figure_, (tuple, list)) else figure_
            s = summaries[name]
            right.scatter(s["flops"] / 1e9, top1, s=max(s["params"] / 1e5, 10), alpha=0.45)
            right.annotate(name, (s["flops"] / 1e9, top1), fontsize=7, ha="center")
        right.set_xscale("log")
        right.set_xlabel("GFLOPs per image")
        right.set_ylabel("ImageNet top-1 accuracy (%)")
        right.set_title("Accuracy vs operations (bubble area = parameters)")
        right.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


# --------------------------------------------------------------------------- command line


def add_profile_arguments(parser):
    """The ``keras-arches profile`` arguments."""
    parser.add_argument("model", help="a registered model name, see `keras-arches list`")
    parser.add_argument("--input-size", type=int, default=None,
                        help="square input size (default: the model's default size)")
    parser.add_argument("--batch-size", type=int, default=1, help="batch size (default 1)")
    parser.add_argument("--csv", default=None, metavar="PATH", help="also write the table as CSV")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--diagram", default=None, metavar="PATH",
                        help="also draw the model with keras.utils.plot_model (needs graphviz)")


def run_profile_command(args):
    """Profile a model: per-layer memory, parameters, MACs and FLOPs."""
    from keras_arches import registry
    from keras_arches.arch_model import strip_auxiliary

    info = registry.model_info(args.model)
    size = args.input_size or info.default_size
    if size < 1:
        raise ValueError(f"--input-size must be a positive integer. Received: {size}")
    shape = (info.channels, size, size) if keras.config.image_data_format() == "channels_first" \
        else (size, size, info.channels)
    model = strip_auxiliary(registry.get_model(info.name, weights=None, input_shape=shape))
    result = profile(model, batch_size=args.batch_size)
    print(result.to_markdown() if args.markdown else result)
    if args.csv:
        result.to_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.diagram and plot_diagram(model, args.diagram):
        print(f"wrote {args.diagram}")
