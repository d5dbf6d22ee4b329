"""The recognition models and how they learn (paper §3.1.2, §3.3, §3.4): normalisation,
augmentation, the multi-task models, the input pipeline, training and prediction."""
