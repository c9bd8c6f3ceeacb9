"""The every-layer figures of TensorFlow's trained MLP, computed independently in NumPy.

weightscope's `analyze --keras-weights weights` computes the same figures in Rust (with faer
for the linear algebra); tests/it/tensorflow.rs checks that both agree to 1e-4. The routes
differ on purpose: NC1 here takes the full d x d pseudo-inverse of the between-class
covariance (weightscope reduces it to a K x K one), and r(k) solves a least-squares problem
per k (weightscope reads every k off one Gram-Schmidt pass over the images).

    python every_layer.py            # writes every_layer.json beside this script

Needs only NumPy (pip install numpy); definitions in docs/method.md, section 6.
"""

import json
import os

import numpy as np

from reference import HERE, ROOT, load_mnist, unit_rows

K = 10
BLEND_KS = [1, 2, 5, 10, 20, 50, 100, 200]


def load_mlp(directory):
    return [(np.load(os.path.join(directory, f"mlp_w{i}.npy")).astype(np.float64),
             np.load(os.path.join(directory, f"mlp_b{i}.npy")).astype(np.float64)) for i in range(2)]


def hidden(layers, x):
    w, b = layers[0]
    return np.maximum(np.asarray(x, np.float64) @ w + b, 0.0)


def diagonal(m):
    n = m.shape[0]
    d = float(np.trace(m))
    return {"diag_mean": d / n, "offdiag_mean": (float(m.sum()) - d) / (n * n - n),
            "rows_diag_max": int(sum(int(np.argmax(m[i])) == i for i in range(n)))}


def cos_table(rows, columns):
    a = unit_rows(rows)
    b = unit_rows(columns.T)
    return a @ b.T


def output_template(h, y, w_out):
    means = np.stack([h[y == c].mean(axis=0) for c in range(K)])
    centred = means - h.mean(axis=0)
    return diagonal(cos_table(centred, w_out))


def neural_collapse(h, y, h_test, layers):
    w_out, b_out = layers[1]
    mu = np.stack([h[y == c].mean(axis=0) for c in range(K)])
    mu_g = h.mean(axis=0)
    m = mu - mu_g
    r = h - mu[y]
    sigma_w = r.T @ r / len(h)
    sigma_b = m.T @ m / K
    nc1 = float(np.trace(sigma_w @ np.linalg.pinv(sigma_b, rcond=1e-10, hermitian=True)) / K)
    norms = np.linalg.norm(m, axis=1)
    cosines = [m[a] @ m[b] / (norms[a] * norms[b]) for a in range(K) for b in range(a + 1, K)]
    w = w_out.T
    nc3 = float(np.sum((w / np.linalg.norm(w) - m / np.linalg.norm(m)) ** 2))
    predicted = np.argmax(h_test @ w_out + b_out, axis=1)
    distances = ((h_test[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2)
    nc4 = float(np.mean(np.argmin(distances, axis=1) == predicted))
    return {"nc1": nc1, "nc2_cos_mean": float(np.mean(cosines)), "nc2_cos_std": float(np.std(cosines)),
            "nc2_norm_cv": float(np.std(norms) / np.mean(norms)), "nc3": nc3, "nc4": nc4}


def distributed(h_test, y_test, w_out):
    means = np.stack([h_test[y_test == c].mean(axis=0) for c in range(K)])
    n90 = []
    for c in range(K):
        a = np.sort(means[c] * w_out[:, c])[::-1]
        a = a[a > 0]
        n90.append(int(np.searchsorted(np.cumsum(a), 0.9 * a.sum()) + 1) if len(a) else 0)
    top = means.max(axis=0)
    rest = (means.sum(axis=0) - top) / (K - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        si = np.where(top + rest == 0, 0.0, (top - rest) / (top + rest))
    return {"n90": n90, "n90_mean": float(np.mean(n90)),
            "selectivity": {"mean": float(si.mean()), "median": float(np.median(si)),
                            "frac_above_half": float(np.mean(si > 0.5))}}


def blend(unit_x, vectors):
    """r(k) mean over neurons, by least squares on the k most similar images for each k."""
    sims = unit_x @ vectors
    shares = []
    for j in range(vectors.shape[1]):
        v = vectors[:, j]
        order = np.argsort(-sims[:, j], kind="stable")[:max(BLEND_KS)]
        row = []
        for k in BLEND_KS:
            a = unit_x[order[:k]].T
            coef, *_ = np.linalg.lstsq(a, v, rcond=None)
            p = a @ coef
            row.append(float(p @ p / (v @ v)))
        shares.append(row)
    return np.asarray(shares).mean(axis=0).tolist()


def main():
    (x, y), (x_test, y_test) = load_mnist(os.path.join(ROOT, "data", "mnist"))
    weights = os.path.join(HERE, "weights")
    trained = load_mlp(weights)
    init = [(np.load(os.path.join(weights, f"init_mlp_w{i}.npy")).astype(np.float64),
             np.load(os.path.join(weights, f"init_mlp_b{i}.npy")).astype(np.float64)) for i in range(2)]
    unit_x = unit_rows(x)
    out = {}
    for name, layers in (("trained", trained), ("init", init)):
        h, h_test = hidden(layers, x), hidden(layers, x_test)
        out[name] = {
            "output_template_centered": output_template(h, y, layers[1][0]),
            "neural_collapse": neural_collapse(h, y, h_test, layers),
            "selectivity": distributed(h_test, y_test, layers[1][0])["selectivity"],
            "blend_mean": blend(unit_x, layers[0][0]),
        }
    out["trained"].update({k: v for k, v in distributed(hidden(trained, x_test), y_test, trained[1][0]).items()
                           if k != "selectivity"})
    out["delta_blend_mean"] = blend(unit_x, trained[0][0] - init[0][0])
    with open(os.path.join(HERE, "every_layer.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
