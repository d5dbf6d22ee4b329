"""Check that the Keras Inception-v4 computes the same function as timm's ``inception_v4``.

Builds timm's ``inception_v4`` with random weights (``pretrained=False``; its batch-norm
statistics and affine parameters are also randomised, so that they matter), saves its state dict
to a ``.safetensors`` file (or ``.pth``), converts that file with
``replication.inception_v4.load_timm_weights`` into the Keras model, runs both in inference mode
on the same seeded random batch and prints the parameter counts, the largest absolute difference
of the logits and PASS or FAIL against the tolerance (1e-4 by default). Exit status 0 on PASS.

Needs torch and timm (and timm's torchvision) besides Keras 3; Keras may run on any backend, e.g.

    KERAS_BACKEND=jax python scripts/check_inception_v4_parity.py --size 299 --batch 2

Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def randomise_batch_norm(model, generator) -> None:
    """Give every BatchNorm random statistics and affine parameters (default ones are trivial)."""
    import torch

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=299, help="input height and width (>= 75)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tol", type=float, default=1e-4, help="max abs difference of logits")
    parser.add_argument("--format", choices=("safetensors", "pth", "dict"), default="safetensors",
                        help="how the state dict travels to the converter")
    args = parser.parse_args(argv)

    import keras
    import timm
    import torch

    from replication.inception_v4 import inception_v4, load_timm_weights

    print(f"torch {torch.__version__}, timm {timm.__version__}, keras {keras.__version__} "
          f"(backend {keras.backend.backend()})")
    torch.manual_seed(args.seed)
    reference = timm.create_model("inception_v4", pretrained=False, num_classes=1000)
    randomise_batch_norm(reference, torch.Generator().manual_seed(args.seed))
    reference.eval()
    timm_params = sum(p.numel() for p in reference.parameters())
    timm_buffers = sum(b.numel() for name, b in reference.named_buffers()
                       if not name.endswith("num_batches_tracked"))

    model = inception_v4(input_shape=(args.size, args.size, 3), classifier_activation=None)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = model.count_params()

    state = {k: v.detach().clone() for k, v in reference.state_dict().items()}
    with tempfile.TemporaryDirectory() as tmp:
        if args.format == "safetensors":
            from safetensors.torch import save_file

            source = os.path.join(tmp, "inception_v4.safetensors")
            save_file({k: v.contiguous() for k, v in state.items()}, source)
        elif args.format == "pth":
            source = os.path.join(tmp, "inception_v4.pth")
            torch.save(state, source)
        else:
            source = state
        t0 = time.time()
        report = load_timm_weights(model, source)
        t_convert = time.time() - t0

    x = np.random.default_rng(args.seed).uniform(-1, 1, (args.batch, args.size, args.size, 3))
    x = x.astype(np.float32)
    with torch.no_grad():
        features = reference.forward_head(
            reference.forward_features(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())),
            pre_logits=True,
        )
        expected = reference.last_linear(features).numpy()
        features = features.numpy()
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


if __name__ == "__main__":
    raise SystemExit(main())
