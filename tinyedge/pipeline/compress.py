"""Compression steps, each optional, each fine-tuned with the distillation loss and returned as a
plain Keras model (wrappers stripped) ready for the next step:

  low-rank (SVD) factorisation of Dense layers -> magnitude pruning -> weight clustering -> QAT

Pruning, clustering and QAT go through tensorflow-model-optimization. Only Conv2D, DepthwiseConv2D and
Dense layers are wrapped, so models with other layers (BatchNormalization, pooling) still compress;
the wrappers take the trained layers themselves, so no weights are copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import training

STEPS = ("low_rank", "prune", "cluster", "qat")
WEIGHTED_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")


@dataclass
class FineTune:
    """Everything a fine-tune needs besides the model."""
    dataset: object
    train_targets: np.ndarray
    val_targets: np.ndarray
    loss: object
    metric: object
    epochs: int
    batch_size: int
    learning_rate: float
    progress: training.Lines

    def run(self, model, label: str, callbacks=()):
        return training.fit(model, self.dataset, self.train_targets, self.val_targets, self.loss,
                            self.metric, self.epochs, self.batch_size, self.learning_rate,
                            self.progress, label, callbacks)


def _weighted(layer) -> bool:
    return type(layer).__name__ in WEIGHTED_LAYERS


def low_rank(model, fraction: float, tune: FineTune):
    """Replace each Dense kernel W (in x out) by U (in x r) @ V (r x out) from its SVD, when that
    stores fewer numbers, then fine-tune. V keeps the layer's name, so later steps see the same
    layers; U is a bias-free Dense called '<name>_lowrank'."""
    import tf_keras
    config = model.get_config()
    if "layers" not in config or "input_layers" not in config:
        tune.progress("  low-rank: the model is not a functional Keras model; skipped")
        return model
    factors = {}
    new_layers = []
    for entry in config["layers"]:
        layer = model.get_layer(entry["config"]["name"])
        if type(layer).__name__ == "Dense":
            kernel, *rest = layer.get_weights()
            rows, cols = kernel.shape
            rank = max(1, int(round(fraction * min(rows, cols))))
            if rank * (rows + cols) < rows * cols:
                u, s, vt = np.linalg.svd(kernel, full_matrices=False)
                root = np.sqrt(s[:rank])
                name = entry["config"]["name"]
                u_name = f"{name}_lowrank"
                factors[u_name] = [u[:, :rank] * root]
                factors[name] = [(vt[:rank].T * root).T, *rest]
                u_entry = {"class_name": "Dense", "name": u_name,
                           "config": {"name": u_name, "units": rank, "use_bias": False,
                                      "activation": "linear", "trainable": True, "dtype": "float32"},
                           "inbound_nodes": entry["inbound_nodes"]}
                entry = dict(entry, inbound_nodes=[[[u_name, 0, 0, {}]]])
                new_layers.append(u_entry)
                tune.progress(f"  low-rank: {name} {rows}x{cols} -> rank {rank} "
                              f"({rows * cols} -> {rank * (rows + cols)} weights)")
        new_layers.append(entry)
    if not factors:
        tune.progress("  low-rank: no Dense layer gets smaller at this rank; unchanged")
        return model
    config["layers"] = new_layers
    factored = tf_keras.Model.from_config(config)
    for layer in factored.layers:
        name = layer.name
        if name in factors:
            layer.set_weights(factors[name])
        elif layer.weights:
            layer.set_weights(model.get_layer(name).get_weights())
    return tune.run(factored, "low-rank")


def prune(model, sparsity: float, tune: FineTune):
    import tensorflow_model_optimization as tfmot
    import tf_keras
    steps = tune.epochs * int(np.ceil(len(tune.dataset.x_train) / tune.batch_size))
    end = max(1, int(steps * 0.7))  # the last 30 % of steps recover at the final sparsity
    # tfmot's default frequency (every 100 steps) would never prune a short fine-tune.
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0, end_step=end,
        frequency=max(1, end // 20))

    def wrap(layer):
        if _weighted(layer):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    wrapped = tf_keras.models.clone_model(model, clone_function=wrap)
    tune.run(wrapped, "prune", callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    tune.progress(f"  prune: {sparsity_of(stripped):.0%} of the conv/dense weights are zero")
    return stripped


def cluster(model, clusters: int, tune: FineTune):
    import tensorflow_model_optimization as tfmot
    import tf_keras
    init = tfmot.clustering.keras.CentroidInitialization.KMEANS_PLUS_PLUS

    def wrap(layer):
        if _weighted(layer):
            return tfmot.clustering.keras.cluster_weights(layer, number_of_clusters=clusters,
                                                          cluster_centroids_init=init)
        return layer

    wrapped = tf_keras.models.clone_model(model, clone_function=wrap)
    tune.run(wrapped, "cluster")
    stripped = tfmot.clustering.keras.strip_clustering(wrapped)
    tune.progress(f"  cluster: at most {max_unique_weights(stripped)} distinct values per weight tensor")
    return stripped


def qat(model, tune: FineTune):
    """Quantization-aware training; the returned model keeps its fake-quant nodes for conversion."""
    import tensorflow_model_optimization as tfmot
    aware = tfmot.quantization.keras.quantize_model(model)
    return tune.run(aware, "QAT")


def sparsity_of(model) -> float:
    kernels = [w for layer in model.layers if _weighted(layer) for w in layer.get_weights()[:1]]
    total = sum(k.size for k in kernels)
    return float(sum(np.count_nonzero(k == 0) for k in kernels) / total) if total else 0.0


def max_unique_weights(model) -> int:
    kernels = [w for layer in model.layers if _weighted(layer) for w in layer.get_weights()[:1]]
    return max((np.unique(k).size for k in kernels), default=0)


def load_qat(path):
    import tensorflow_model_optimization as tfmot
    import tf_keras
    with tfmot.quantization.keras.quantize_scope():
        return tf_keras.models.load_model(path, compile=False)
