"""The article's experiment in TensorFlow/Keras, with weightscope's analysis figures.

Trains the SLP (784->10) and the MLP (784->128->10) exactly as the article's script does
(Adam with Keras defaults, batch 500, 20 epochs, validation_split=0.02), reading MNIST from
the project's data/mnist instead of downloading it. For each seed it writes
results/seed-<seed>.json: per-epoch history, test loss/accuracy, and the same analysis
figures, with the same definitions and key names, as weightscope's analysis.json. With
--weights it also saves the initial and trained weights as .npy files (Keras kernel layout
[in, out]).

    python reference.py --seeds 12345 1 2 --weights-seed 12345
    python reference.py --seeds 12345 --no-shuffle --out lockstep   # lockstep mode
"""

import argparse
import gzip
import json
import os
import platform
import struct
import time

import numpy as np

NUM_CLASSES = 10
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data[16:], dtype=np.uint8).reshape(count, rows * cols)
    if magic == 0x801:
        return np.frombuffer(data[8:], dtype=np.uint8)
    raise ValueError(f"{path}: unknown IDX magic {magic:#x}")


def find(data_dir, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(data_dir, candidate)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{data_dir} lacks {name}(.gz)")


def load_mnist(data_dir):
    def pair(prefix):
        x = read_idx(find(data_dir, f"{prefix}-images-idx3-ubyte")).astype(np.float32) / 255.0
        y = read_idx(find(data_dir, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
        return x, y

    return pair("train"), pair("t10k")


# ---- analysis: the definitions of docs/method.md, as weightscope implements them --------


def cos(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return 0.0 if na == 0 or nb == 0 else float(a @ b / (na * nb))


def unit_rows(m):
    m = np.asarray(m, np.float64)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


def propagate(layers, x):
    """Inputs and outputs of every layer; hidden layers use ReLU, the last gives logits."""
    inputs, outputs = [], []
    h = np.asarray(x, np.float64)
    for i, (w, b) in enumerate(layers):
        inputs.append(h)
        z = h @ w + b
        h = np.maximum(z, 0.0) if i + 1 < len(layers) else z
        outputs.append(h)
    return inputs, outputs


def winners(layers, probe):
    inputs, outputs = propagate(layers, probe[None, :])
    out = []
    for l, (w, _) in enumerate(layers):
        j = int(np.argmax(outputs[l][0]))
        out.append((j, cos(inputs[l][0], w[:, j])))
    return out


def summarize(values):
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "median": float(np.median(v)), "min": float(v.min()), "max": float(v.max())}


def diagonal(m):
    m = np.asarray(m)
    n = m.shape[0]
    if m.shape != (n, n) or n < 2:
        return None
    diag = float(np.trace(m))
    return {
        "diag_mean": diag / n,
        "offdiag_mean": (float(m.sum()) - diag) / (n * n - n),
        "rows_diag_max": int(sum(int(np.argmax(m[i])) == i for i in range(n))),
    }


def class_means(x, y):
    means = np.stack([x[y == c].astype(np.float64).mean(axis=0) for c in range(NUM_CLASSES)])
    return means, x.astype(np.float64).mean(axis=0)


def class_template(means, glob, columns):
    def table(ms):
        return [[cos(m, columns[:, k]) for k in range(columns.shape[1])] for m in ms]

    matrix = table(means)
    centered = table(means - glob)
    out = {"matrix": matrix, "matrix_centered": centered}
    d = diagonal(matrix)
    if d is not None:
        out.update(d)
    out["diag_centered"] = diagonal(centered)
    out["best_match_mean"] = float(np.mean([max(r) for r in matrix]))
    out["best_match_mean_centered"] = float(np.mean([max(r) for r in centered]))
    return out


def nearest_inputs(unit_inputs, labels, w):
    sims = unit_inputs @ unit_rows(np.asarray(w).T).T
    index = np.argmax(sims, axis=0)
    best = sims[index, np.arange(sims.shape[1])]
    out = summarize(best)
    out.update({"cos": best.tolist(), "index": index.tolist(), "label": labels[index].tolist()})
    return out


def analysed_inputs(layers, x, unit_x):
    count = max(1, len(layers) - 1)
    result = [unit_x]
    if count > 1:
        inputs, _ = propagate(layers[:count], x)
        result += [unit_rows(h) for h in inputs[1:count]]
    return result


def nearest_all(layers, x, unit_x, labels):
    return [nearest_inputs(u, labels, layers[l][0]) for l, u in enumerate(analysed_inputs(layers, x, unit_x))]


def effective_templates(layers, x_test, y_test):
    if len(layers) < 2:
        return None
    templates = []
    for k in range(NUM_CLASSES):
        xk = x_test[y_test == k].astype(np.float64)
        zs = []
        h = xk
        for i, (w, b) in enumerate(layers):
            z = h @ w + b
            zs.append(z)
            h = np.maximum(z, 0.0)
        grad = np.tile(layers[-1][0][:, k], (len(xk), 1))
        for l in range(len(layers) - 2, -1, -1):
            grad = (grad * (zs[l] > 0)) @ layers[l][0].T
        templates.append(grad.mean(axis=0))
    return np.stack(templates)


def analyze(snapshots, x_train, y_train, x_test, y_test, probe_index):
    """snapshots: list of (epoch, layers), initial first, trained last."""
    means, glob = class_means(x_train, y_train)
    unit_x = unit_rows(x_train)
    probe = x_train[probe_index]
    nearest = [nearest_all(layers, x_train, unit_x, y_train) for _, layers in snapshots]
    dynamics = []
    for (epoch, layers), near in zip(snapshots, nearest):
        w = winners(layers, probe)
        ct = class_template(means, glob, layers[0][0])
        dynamics.append({
            "epoch": epoch,
            "probe_cos": [c for _, c in w],
            "probe_winner": [j for j, _ in w],
            "class_template": diagonal(ct["matrix"]),
            "class_template_centered": ct["diag_centered"],
            "class_template_best_match_centered": ct["best_match_mean_centered"],
            "nearest_input": [{k: n[k] for k in ("mean", "median", "min", "max")} for n in near],
        })
    init, trained = snapshots[0][1], snapshots[-1][1]
    wt, wi = winners(trained, probe), winners(init, probe)
    eff = effective_templates(trained, x_test, y_test)
    return {
        "layers": [trained[0][0].shape[0]] + [w.shape[1] for w, _ in trained],
        "activation": "relu",
        "probe": {
            "index": probe_index,
            "label": int(y_train[probe_index]),
            "layers": [
                {"layer": l, "winner": t[0], "cos_trained": t[1], "winner_init": i[0], "cos_init": i[1]}
                for l, (t, i) in enumerate(zip(wt, wi))
            ],
        },
        "class_template": {
            "trained": class_template(means, glob, trained[0][0]),
            "init": class_template(means, glob, init[0][0]),
        },
        "nearest_input": [
            {"layer": l, "trained": t, "init": i} for l, (t, i) in enumerate(zip(nearest[-1], nearest[0]))
        ],
        "effective_templates": None if eff is None else eff.tolist(),
        "effective_class_template": None if eff is None else class_template(means, glob, eff.T),
        "dynamics": dynamics,
    }


# ---- training -------------------------------------------------------------------------------


def build(keras, hidden):
    layers = [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(NUM_CLASSES, activation="softmax"))
    model = keras.Sequential([keras.layers.Input((784,))] + layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def weights_of(model):
    return [(np.array(l.get_weights()[0]), np.array(l.get_weights()[1])) for l in model.layers]


def run_model(keras, name, hidden, seed, data, shuffle, epochs, probe_index, init_weights=None, fit_only=False):
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    model = build(keras, hidden)
    if init_weights is not None:
        for layer, (w, b) in zip(model.layers, init_weights):
            layer.set_weights([w, b])
    snapshots = [(0, weights_of(model))]

    class Snapshots(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if not fit_only:
                snapshots.append((epoch + 1, weights_of(self.model)))

    timer = {}

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            timer["start"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            timer.setdefault("seconds", []).append(time.perf_counter() - timer["start"])

    started = time.perf_counter()
    hist = model.fit(
        x_train, y_train, epochs=epochs, batch_size=500, validation_split=0.02,
        shuffle=shuffle, verbose=0 if fit_only else 2, callbacks=[EpochTimer(), Snapshots()],
    )
    train_seconds = time.perf_counter() - started
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=2000, verbose=0)
    h = hist.history
    history = [
        {"epoch": e + 1, "loss": h["loss"][e], "accuracy": h["accuracy"][e],
         "val_loss": h["val_loss"][e], "val_accuracy": h["val_accuracy"][e],
         "seconds": timer["seconds"][e]}
        for e in range(epochs)
    ]
    started = time.perf_counter()
    analysis = None if fit_only else analyze(snapshots, x_train, y_train, x_test, y_test, probe_index)
    print(f"{name} seed {seed}: test accuracy {test_acc:.4f}, trained in {train_seconds:.1f}s, "
          f"analysed in {time.perf_counter() - started:.1f}s")
    result = {"model": name, "epochs": history, "test": {"loss": test_loss, "accuracy": test_acc},
              "train_seconds": train_seconds, "analysis": analysis}
    return result, snapshots[0][1], snapshots[-1][1]


def save_weights(directory, name, init, trained):
    os.makedirs(directory, exist_ok=True)
    suffixes = [""] if len(trained) == 1 else ["0", "1"]
    for prefix, layers in (("init_", init), ("", trained)):
        for suffix, (w, b) in zip(suffixes, layers):
            np.save(os.path.join(directory, f"{prefix}{name}_w{suffix}.npy"), w.astype(np.float32))
            np.save(os.path.join(directory, f"{prefix}{name}_b{suffix}.npy"), b.astype(np.float32))


def load_weights(directory, name, count):
    suffixes = [""] if count == 1 else [str(i) for i in range(count)]
    return [(np.load(os.path.join(directory, f"init_{name}_w{s}.npy")),
             np.load(os.path.join(directory, f"init_{name}_b{s}.npy"))) for s in suffixes]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    p.add_argument("--seeds", type=int, nargs="+", default=[12345, 1, 2])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--probe-index", type=int, default=1)
    p.add_argument("--no-shuffle", action="store_true", help="keep the training order fixed (lockstep mode)")
    p.add_argument("--init-from", help="start from the init_*.npy weights in this folder (lockstep mode)")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--weights-seed", type=int, default=12345, help="save .npy weights for this seed")
    p.add_argument("--weights-out", default=os.path.join(HERE, "weights"))
    p.add_argument("--models", nargs="+", default=["slp", "mlp"], choices=["slp", "mlp"])
    p.add_argument("--fit-only", action="store_true", help="skip the analysis and the weights (for timing)")
    args = p.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import keras

    data = load_mnist(args.data)
    os.makedirs(args.out, exist_ok=True)
    for seed in args.seeds:
        result = {"tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version(),
                  "seed": seed, "shuffle": not args.no_shuffle, "epochs": args.epochs}
        for name, hidden in (("slp", []), ("mlp", [128])):
            if name not in args.models:
                continue
            init = load_weights(args.init_from, name, len(hidden) + 1) if args.init_from else None
            r, w0, w1 = run_model(keras, name, hidden, seed, data, not args.no_shuffle, args.epochs,
                                  args.probe_index, init, args.fit_only)
            result[name] = r
            # A lockstep run saves its weights only elsewhere than the folder it started from.
            starts_there = args.init_from and os.path.samefile(args.init_from, args.weights_out) \
                if args.init_from and os.path.isdir(args.weights_out) else False
            if seed == args.weights_seed and args.weights_out and not starts_there and not args.fit_only:
                save_weights(args.weights_out, name, w0, w1)
        path = os.path.join(args.out, f"seed-{seed}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(result, f)
        os.replace(path + ".tmp", path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
