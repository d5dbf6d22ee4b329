"""Benchmarks that print numbers, one module per benchmark (``python -m replication bench
[models|pipeline|synth|learnability]``); each is a plain function that prints a readable table and
returns its numbers.

- :mod:`.models`: :func:`~.models.bench_models`, training and inference images/s and peak memory
  of the base nets per variant and input size, against timm's same architectures; its isolated
  worker is ``python -m replication.bench --worker KIND PARAMS`` (``__main__.py``).
- :mod:`.pipeline`: :func:`~.pipeline.bench_input_pipeline`, the paper's CPU augmentation
  (imgaug) against the in-model fast twin, and the cores imgaug needs to feed Inception-v4.
- :mod:`.synth`: :func:`~.synth.bench_synth`, the synthetic data set's rendering rate.
- :mod:`.learnability`: :func:`~.learnability.learnability`, majority class against a logistic
  regression on 32 x 32 pixels per synthetic task.
- :mod:`.common`: timing, memory meters and the CPU's name, shared by the above.

Keras, TensorFlow, JAX and torch are imported inside the functions that need them, never at
module level.
"""
