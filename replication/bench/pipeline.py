"""Input pipeline benchmark (paper §3.1.2(3)): can the paper's CPU augmentation (imgaug) keep
Inception-v4 fed, against the in-model fast twin? ``python -m replication bench pipeline``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from replication.bench.common import cpu_name
from replication.learning.schedule import Stage


def _pipeline_device() -> tuple[str, bool]:
    """(a description of the Keras backend's device, whether it is a GPU)."""
    import keras

    backend = keras.backend.backend()
    try:
        gpus = keras.distribution.list_devices("gpu")
    except Exception:  # noqa: BLE001 - a backend without GPU support raises instead of []
        gpus = []
    if gpus:
        name = str(gpus[0])
        if backend == "tensorflow":
            import tensorflow as tf

            found = tf.config.list_physical_devices("GPU")
            if found:
                name = tf.config.experimental.get_device_details(found[0]).get("device_name", name)
        elif backend == "jax":
            import jax

            name = jax.devices()[0].device_kind
        return f"{backend} on gpu: {name}", True
    return f"{backend} on cpu: {cpu_name()}", False


def bench_input_pipeline(*, size: int = 480, images: int = 64, batch_size: int = 8,
                         train_steps: int = 3, root: str | os.PathLike | None = None) -> dict:
    """Can the paper's CPU augmentation (imgaug) keep the model fed? Prints a table and the verdict.

    Measured, all at ``size`` px, on ``images`` images (the first rows of ``root``'s
    ``label.csv``, or a synthetic set rendered at 512 px into a temporary folder):

    - **decode + resize** and **decode + resize + imgaug** (the paper's augmenters,
      ``augmentation.PAPER_AUGMENTERS``), in images/s **per CPU core**: one thread, with OpenCV
      held to one thread, after one untimed pass, so the files are in the page cache;
    - the **fast twin** (``augmentation.keras_layers``) on batches of ``batch_size``, in images/s
      on the Keras backend's device (inside a ``tf.function`` on TensorFlow, eager elsewhere): its
      cost inside a training step;
    - **Inception-v4** (canonical, the design-level multi-task model of ``models.build_model``)
      **training** images/s at ``size`` on the same device: ``train_steps`` steps of
      ``batch_size`` after one untimed step, mixed precision where a GPU is (as ``train`` does).
      On a few CPU cores this takes minutes and much memory: pass a small ``batch_size``.

    Verdict: cores needed for imgaug to feed the model = model images/s / (decode + resize +
    imgaug) images/s per core; beside it the same for decode + resize alone, which the fast twin
    leaves on the CPU. Returns the numbers as a dict.
    """
    import math
    import sys
    import tempfile

    from replication.data import fashionai

    if images < 1 or batch_size < 1 or train_steps < 1:
        raise ValueError("images, batch_size and train_steps must be positive")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        if root is None:
            from replication import synthetic

            source = Path(tmp)
            # Rendered before Keras starts its backend; in one process once JAX runs (no fork).
            synthetic.generate(source, images_per_task=math.ceil(images / 8), seed=0, size=512,
                               workers=1 if "jax" in sys.modules else None, progress=False)
        else:
            source = Path(root)
        import keras

        from replication.learning import augmentation, inputs, models, training

        device, on_gpu = _pipeline_device()
        rows, _ = fashionai.read_labels(source)
        paths = [fashionai.safe_image_path(source, row.image) for row in rows[:images]]
        if not paths:
            raise ValueError(f"no images under {source}")
        n = len(paths)

        import cv2

        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            decoded = [inputs.load_resized(p, size) for p in paths]  # untimed: page cache
            t0 = time.perf_counter()
            for p in paths:
                inputs.load_resized(p, size)
            decode_rate = n / (time.perf_counter() - t0)
            augment = augmentation.imgaug_augment(augmentation.PAPER_AUGMENTERS)
            augment(decoded[0], np.random.default_rng(0))  # builds the augmenters
            t0 = time.perf_counter()
            for i, p in enumerate(paths):
                augment(inputs.load_resized(p, size), np.random.default_rng([0, i]))
            imgaug_rate = n / (time.perf_counter() - t0)
        finally:
            cv2.setNumThreads(threads)

    # The fast twin on the device.
    batch = np.stack([decoded[i % n] for i in range(batch_size)]).astype("float32")
    layers_ = augmentation.keras_layers(augmentation.PAPER_AUGMENTERS, seed=0)

    def twin(x):
        for layer in layers_:
            x = layer(x, training=True)
        return keras.ops.sum(x)

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        twin = tf.function(twin, autograph=False)
    x = keras.ops.convert_to_tensor(batch)
    float(keras.ops.convert_to_numpy(twin(x)))  # trace / warm up
    reps = max(3, math.ceil(images / batch_size))
    t0 = time.perf_counter()
    for _ in range(reps):
        float(keras.ops.convert_to_numpy(twin(x)))
    twin_rate = reps * batch_size / (time.perf_counter() - t0)

    # Inception-v4 training on the same device.
    spec = models.ModelSpec(level="design", backbone="inception_v4", variant="canonical",
                            image_size=size)
    previous = keras.config.dtype_policy()
    keras.utils.set_random_seed(0)
    try:
        if on_gpu:
            keras.config.set_dtype_policy("mixed_float16")
        model = models.build_model(spec)
    finally:
        keras.config.set_dtype_policy(previous)
    training.compile_for_stage(model, Stage("adam", 1e-4, 1))
    tasks = spec.tasks
    rows = [fashionai.LabelRow(image=f"Images/{tasks[i % len(tasks)].key}/{i}.jpg",
                               task=tasks[i % len(tasks)].key,
                               labels="y" + "n" * (tasks[i % len(tasks)].n_values - 1), row=i + 1)
            for i in range(batch_size)]
    targets, weights = models.masked_targets(rows, tasks)
    xb = np.random.default_rng(0).uniform(0, 255, (batch_size, size, size, 3)).astype("float32")
    t0 = time.perf_counter()
    model.train_on_batch(xb, targets, sample_weight=weights)  # compiles
    compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(train_steps):
        loss = model.train_on_batch(xb, targets, sample_weight=weights)
    float(np.asarray(loss).ravel()[0])
    model_rate = train_steps * batch_size / (time.perf_counter() - t0)
    del model

    result = {
        "size": size, "images": n, "batch_size": batch_size, "train_steps": train_steps,
        "device": device, "source": "synthetic (512 px JPEG)" if root is None else str(root),
        "decode_resize_per_core": round(decode_rate, 2),
        "decode_resize_imgaug_per_core": round(imgaug_rate, 2),
        "imgaug_alone_per_core": round(1 / max(1 / imgaug_rate - 1 / decode_rate, 1e-9), 2),
        "twin_images_per_second": round(twin_rate, 1),
        "model_train_images_per_second": round(model_rate, 3),
        "model_compile_seconds": round(compile_seconds, 1),
        "cores_needed_imgaug": round(model_rate / imgaug_rate, 3),
        "cores_needed_decode_resize": round(model_rate / decode_rate, 3),
        "twin_share_of_step": round(model_rate / twin_rate, 4),
    }
    print(f"input pipeline at {size} px, {n} images ({result['source']}); device: {device}")
    print(f"  decode + resize                    {decode_rate:9.1f} img/s per core")
    print(f"  decode + resize + imgaug (paper)   {imgaug_rate:9.1f} img/s per core "
          f"(imgaug alone {result['imgaug_alone_per_core']:.1f})")
    print(f"  fast twin in the model             {twin_rate:9.1f} img/s (batch {batch_size}; "
          f"about {100 * result['twin_share_of_step']:.1f} % of a training step)")
    print(f"  Inception-v4 training at {size} px   {model_rate:9.2f} img/s (batch {batch_size}, "
          f"{train_steps} steps; first step {compile_seconds:.0f} s)")
    print(f"  verdict: cores needed for imgaug to feed the model = model img/s / imgaug img/s "
          f"per core = {model_rate:.3g} / {imgaug_rate:.3g} = "
          f"{model_rate / imgaug_rate:.3g} cores")
    print(f"           (decode + resize alone, what the fast twin leaves on the CPU: "
          f"{model_rate / decode_rate:.3g} cores)")
    return result
