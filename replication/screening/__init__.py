"""The flat-lay / on-model screening of the length-level images (paper §3.2), one module per part:

- :mod:`~replication.screening.cascade`: stages 1-2 over image files (the parser rule, the
  re-screen with a person detector) and :class:`~replication.screening.cascade.Screened`, their
  record of every stage's verdicts;
- :mod:`~replication.screening.human_parsing`: the human parser (JPPNet's role) and the rule;
- :mod:`~replication.screening.person_detection`: the person detectors (Mask R-CNN's role) and
  their registry by name;
- :mod:`~replication.screening.segmentation`: the two small segmentation nets behind the default
  parser and the learned detector, their training data and model cache;
- :mod:`~replication.screening.classifier`: stage 3, the flat/on-model classifier;
- :mod:`~replication.screening.scoring`: every stage scored against the synthetic truth;
- :mod:`~replication.screening.screen_csv`: the screen CSV, its provenance, its flags;
- :mod:`~replication.screening.screen`: the whole stage on a data set or a folder (notebook 04,
  ``python -m replication screen``).
"""
