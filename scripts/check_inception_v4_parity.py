"""Check that the Keras Inception-v4 computes the same function as timm's ``inception_v4``.

Both modes fill timm's ``inception_v4`` (built with ``pretrained=False``: nothing is downloaded)
with the weights of :func:`seeded_state_dict`, which NumPy alone rebuilds from timm's key list and
a seed, and run it in eval mode on a seeded random input.

Live check (needs Keras, torch and timm, and safetensors for the default ``--format``)::

    KERAS_BACKEND=jax python scripts/check_inception_v4_parity.py --size 299 --batch 2

(Keras on JAX: with TensorFlow in the process, importing the CUDA build of torch crashed here.)

saves the state dict as ``.safetensors`` (or ``.pth``, or passes the dict), converts it with
``replication.nets.timm_weights.load_timm_weights`` into the canonical Keras model, runs both and
prints the parameter counts, the largest absolute differences of the logits and of the pooled
features, and PASS or FAIL against the tolerance (1e-4 by default). Exit status 0 on PASS.

Golden file (needs torch and timm, not Keras)::

    python scripts/check_inception_v4_parity.py --write-golden

writes ``tests/golden/inception_v4_timm.json``: timm's state-dict keys and shapes, the seed, a
fingerprint of the weights, the input's seed and shape, and timm's logits and pooled features.
``tests/test_nets.py`` rebuilds the weights from it with NumPy, converts them and compares the
Keras model's outputs with timm's, in every test run and without torch. Rerun it when timm's
``inception_v4`` or this recipe changes. torch and timm go in a venv of their own, not the
project's, e.g.::

    python3.11 -m venv /tmp/timm-venv
    /tmp/timm-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 timm==1.0.31 \\
        safetensors==0.8.0 numpy==2.4.6
    /tmp/timm-venv/bin/python scripts/check_inception_v4_parity.py --write-golden
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GOLDEN = REPO / "tests" / "golden" / "inception_v4_timm.json"
#: The golden input: one image of 139 x 119 pixels (small for the tests' time; not square, so
#: that height and width cannot be confused; 3 x 2 cells in the last feature map, so that the
#: Inception-C blocks' paddings matter).
GOLDEN_INPUT = (1, 139, 119, 3)

RECIPE = (
    "For each state-dict key in timm's order, with z = numpy.random.default_rng(seed)"
    ".standard_normal(shape) (float64, then float32): conv weights z * sqrt(2 / fan_in) (He), "
    "last_linear.weight z / sqrt(fan_in), BN weight 1 + 0.1 z, BN bias, running_mean and "
    "last_linear.bias 0.1 z, BN running_var exp(0.2 z) (positive); num_batches_tracked 0 "
    "(no draw). Input: numpy.random.default_rng(input_seed).uniform(-1, 1, input_shape), "
    "float32, NHWC (timm gets NCHW)."
)


def seeded_state_dict(keys_and_shapes: Sequence[tuple[str, Sequence[int]]],
                      seed: int) -> dict[str, np.ndarray]:
    """timm-style weights from a seed, as :data:`RECIPE` says: finite activations through the
    149 conv-bn-ReLU units in eval mode, batch-norm statistics that matter, positive variances."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in keys_and_shapes:
        shape = tuple(int(s) for s in shape)
        if key.endswith("num_batches_tracked"):
            state[key] = np.zeros(shape, np.int64)
            continue
        z = rng.standard_normal(shape)
        if key.endswith("conv.weight"):
            value = z * np.sqrt(2.0 / np.prod(shape[1:]))
        elif key == "last_linear.weight":
            value = z / np.sqrt(shape[1])
        elif key.endswith("bn.weight"):
            value = 1.0 + 0.1 * z
        elif key.endswith("bn.running_var"):
            value = np.exp(0.2 * z)
        elif key.endswith(("bn.bias", "bn.running_mean", "last_linear.bias")):
            value = 0.1 * z
        else:
            raise ValueError(f"no recipe for state-dict key {key!r}")
        state[key] = value.astype(np.float32)
    return state


def fingerprint(state: Mapping[str, np.ndarray]) -> list[float]:
    """Sum and sum of squares of every weight (float64): tells a changed random stream from a
    broken converter."""
    values = [v.astype(np.float64) for k, v in state.items() if v.dtype == np.float32]
    return [float(sum(v.sum() for v in values)), float(sum((v * v).sum() for v in values))]


def seeded_input(shape: Sequence[int], seed: int) -> np.ndarray:
    """The NHWC input batch of :data:`RECIPE`."""
    return np.random.default_rng(seed).uniform(-1, 1, tuple(shape)).astype(np.float32)


def timm_reference(seed: int):
    """timm's ``inception_v4`` (random, nothing downloaded) with :func:`seeded_state_dict`
    loaded, in eval mode; and that state dict."""
    import timm
    import torch

    model = timm.create_model("inception_v4", pretrained=False, num_classes=1000)
    keys = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    state = seeded_state_dict(keys, seed)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    return model.eval(), keys, state


def timm_outputs(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """timm's (logits, pooled features) for the NHWC batch ``x``."""
    import torch

    with torch.no_grad():
        features = model.forward_head(
            model.forward_features(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())),
            pre_logits=True,
        )
        logits = model.last_linear(features)
    return logits.numpy(), features.numpy()


def _rounded(values: np.ndarray) -> list[float]:
    # Nine significant digits give back the same float32.
    return [float(f"{v:.9g}") for v in np.asarray(values, np.float32).ravel()]


def _layout(golden: dict) -> str:
    """JSON with a line per field and a line per state-dict key, so that a change diffs well."""
    compact = {"separators": (",", ":")}
    lines = []
    for field, value in golden.items():
        if field == "state_dict":
            rows = ",\n".join("  " + json.dumps(row, **compact) for row in value)
            lines.append(f"{json.dumps(field)}: [\n{rows}\n]")
        else:
            lines.append(f"{json.dumps(field)}: {json.dumps(value, **compact)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_golden(path: Path, seed: int) -> int:
    import timm
    import torch

    torch.manual_seed(seed)
    model, keys, state = timm_reference(seed)
    input_seed = seed + 1
    x = seeded_input(GOLDEN_INPUT, input_seed)
    logits, features = timm_outputs(model, x)
    golden = {
        "about": "timm's inception_v4 with seeded weights and its outputs on a seeded input; "
                 "written by scripts/check_inception_v4_parity.py --write-golden, read by "
                 "tests/test_nets.py",
        "versions": {"timm": timm.__version__, "torch": torch.__version__,
                     "numpy": np.__version__},
        "recipe": RECIPE,
        "seed": seed,
        "fingerprint": fingerprint(state),
        "input_seed": input_seed,
        "input_shape": list(GOLDEN_INPUT),
        "state_dict": [[k, list(s)] for k, s in keys],
        "logits": _rounded(logits),
        "features": _rounded(features),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_layout(golden))
    print(f"wrote {path} ({path.stat().st_size:,} bytes): {len(keys)} keys, logits "
          f"{logits.shape} max |.| {np.abs(logits).max():.4g}, features {features.shape} "
          f"max |.| {np.abs(features).max():.4g}")
    return 0


def live_check(args) -> int:
    import keras
    import timm
    import torch

    from replication.nets.inception_v4 import inception_v4
    from replication.nets.timm_weights import load_timm_weights

    print(f"torch {torch.__version__}, timm {timm.__version__}, keras {keras.__version__} "
          f"(backend {keras.backend.backend()})")
    torch.manual_seed(args.seed)
    reference, _, state = timm_reference(args.seed)
    timm_params = sum(p.numel() for p in reference.parameters())
    timm_buffers = sum(b.numel() for name, b in reference.named_buffers()
                       if not name.endswith("num_batches_tracked"))

    model = inception_v4(input_shape=(args.size, args.size, 3), classifier_activation=None)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = model.count_params()

    with tempfile.TemporaryDirectory() as tmp:
        if args.format == "safetensors":
            from safetensors.numpy import save_file

            source = os.path.join(tmp, "inception_v4.safetensors")
            save_file(state, source)
        elif args.format == "pth":
            source = os.path.join(tmp, "inception_v4.pth")
            torch.save({k: torch.from_numpy(v) for k, v in state.items()}, source)
        else:
            source = state
        t0 = time.time()
        report = load_timm_weights(model, source)
        t_convert = time.time() - t0

    x = seeded_input((args.batch, args.size, args.size, 3), args.seed)
    expected, features = timm_outputs(reference, x)
    extractor = keras.Model(model.input, [model.get_layer("avg_pool").output, model.output])
    got_features, got = extractor.predict(x, batch_size=args.batch, verbose=0)
    diff = float(np.abs(got - expected).max())
    scale = float(np.abs(expected).max())
    feature_diff = float(np.abs(got_features - features).max())

    print(f"timm inception_v4 parameters:          {timm_params:,} "
          f"(+ {timm_buffers:,} BN statistics)")
    print(f"keras inception_v4 trainable weights:  {trainable:,}")
    print(f"keras inception_v4 count_params():     {total:,} (incl. BN moving mean/variance)")
    print(f"state dict: {len(report['loaded'])} keys loaded from {args.format} "
          f"in {t_convert:.1f} s, {len(report['unused'])} unused")
    print(f"input {args.batch}x{args.size}x{args.size}x3, seed {args.seed}; "
          f"logits max |timm| = {scale:.4g}")
    print(f"max abs diff of logits: {diff:.3e} (relative {diff / max(scale, 1e-12):.3e}); "
          f"argmax agree: {bool((got.argmax(1) == expected.argmax(1)).all())}")
    print(f"max abs diff of the 1536 pooled features: {feature_diff:.3e} "
          f"(max |feature| = {float(np.abs(features).max()):.4g})")
    ok = diff <= args.tol and feature_diff <= args.tol and trainable == timm_params
    print(f"{'PASS' if ok else 'FAIL'} (tolerance {args.tol:g})")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=299, help="input height and width (>= 75)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tol", type=float, default=1e-4,
                        help="max abs difference of logits and features")
    parser.add_argument("--format", choices=("safetensors", "pth", "dict"), default="safetensors",
                        help="how the state dict travels to the converter")
    parser.add_argument("--write-golden", nargs="?", type=Path, const=GOLDEN, default=None,
                        metavar="PATH",
                        help=f"write the golden file instead (default {GOLDEN.relative_to(REPO)})")
    args = parser.parse_args(argv)
    if args.write_golden is not None:
        return write_golden(args.write_golden, args.seed)
    return live_check(args)


if __name__ == "__main__":
    raise SystemExit(main())
