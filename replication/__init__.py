"""Replication of "Clothing attribute label recognition based on deep learning" (FashionAI).

One module per concern; a newcomer finds each paper section by name:

- :mod:`replication.tasks`: the eight attribute dimensions (paper §3.1.1, Table 1).
- :mod:`replication.fashionai`: the FashionAI data format: read, validate, split, write answers.
- :mod:`replication.metric`: the official FashionAI metric (AP, mAP, BasicPrecision) and eq. 8 acc.
- :mod:`replication.synthetic`: the embedded synthetic data set in the FashionAI layout.
- :mod:`replication.normalisation`: data set statistics and the normalisation modes (§3.1.2(1)).
- :mod:`replication.augmentation`: the paper's imgaug augmentation and its in-model fast twin (§3.1.2(3)).
- :mod:`replication.inception_v4`, :mod:`replication.inception_resnet_v2`: the base nets (§2.1, §2.2);
  :mod:`replication.backbones`: their registry and variants.
- :mod:`replication.models`: multi-task, single- and dual-channel models (§3.3).
- :mod:`replication.training`: the staged schedule, streaming data, checkpoints and resume (§3.3).
- :mod:`replication.prediction`: flip TTA, the doubleNet ensemble, answer.csv (§3.4).
- :mod:`replication.experiments`: the trained models the result notebooks share (§4.2, §4.3).
- :mod:`replication.profiles`: the smoke / synthetic / paper profiles.
- :mod:`replication.reproduce`: runs the notebooks with papermill and builds the book.
"""

__version__ = "0.1.0"
