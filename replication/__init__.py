"""Reproducible replication of "Clothing attribute label recognition based on deep learning".

The package is grouped by concern, in layers (each imports only those before it):

- :mod:`replication.data`: the attribute dimensions, the FashionAI files, the official metric and
  its statistics, the synthetic truth format.
- :mod:`replication.synthetic`: the embedded synthetic data set in the FashionAI layout.
- :mod:`replication.nets`: Inception-v4 and InceptionResNet-v2 (§2.1, §2.2), their registry and
  weight loaders.
- :mod:`replication.learning`: normalisation, augmentation, models, schedule, input pipeline,
  training and prediction (§3.1.2, §3.3, §3.4).
- :mod:`replication.screening`: the flat-lay / on-model screening (§3.2).
- :mod:`replication.book`: profiles, the experiments the chapters share, tables, figures, and the
  papermill + Jupyter Book reproduction.
- :mod:`replication.bench`: benchmarks that print numbers; :mod:`replication.cli`: the command line.
"""

__version__ = "0.1.0"
