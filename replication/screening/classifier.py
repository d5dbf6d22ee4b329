"""Stage 3 of the flat-lay / on-model screening (paper §3.2): the flat/on-model classifier.

The paper trains a classifier on the cascade's result (stages 1-2,
:mod:`~replication.screening.cascade`) with its schedule: Adam 1e-3 for 3 epochs (accuracy
0.9024), then 2.5e-5 and 7.5e-6 (0.9411), then SGD 4.5e-6 and 1e-6 (0.957;
:data:`PAPER_CLASSIFIER_ACCURACY`). Here it is the recognition models' body with one two-way
softmax (:func:`build_classifier`), trained on stage 2's labels of the training split
(:func:`train_classifier`), its accuracy on the validation split recorded after every stage
(:func:`history_table`, with the per-image verdicts behind it: :func:`stage_predictions`). Its
verdict is the final flag of every length image, unless on the calibration split it does no
better than always answering the cascade's majority class (:func:`check_classifier`): a classifier
that learnt nothing must not overrule the cascade.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence

import keras
import numpy as np
from tqdm import tqdm

from replication.data import fashionai
from replication.data.fashionai import safe_image_path
from replication.learning import inputs, models, prediction, training
from replication.learning.schedule import parse_schedule
from replication.screening import segmentation
from replication.screening.cascade import SPLIT_WORDS, Screened

PAPER_CLASSIFIER_ACCURACY = {1: 0.9024, 3: 0.9411, 5: 0.957}
"""§3.2: the classifier's accuracy after 3 Adam epochs at 1e-3 (stage 1), after the Adam stages
at 2.5e-5 and 7.5e-6 (stage 3), and at the end of the SGD stages (stage 5)."""

VAL_PREDICTIONS = "val_flat"
"""Each stage's history record holds the classifier's flat-lay verdict (1/0) per validation
image, in the order given, so that an accuracy's interval can be bootstrapped afterwards."""
HISTORY_FORMAT = 2
"""Part of the cached classifier's configuration: a model trained before its history held
:data:`VAL_PREDICTIONS` is trained again, not reused without them."""

FLAT_HEAD = "flat_onmodel"
"""The classifier's output: softmax over (on-model, flat-lay)."""


def build_classifier(spec: models.ModelSpec, *, bn_momentum: float | None = None,
                     backbone_factory: models.BackboneFactory | None = None) -> keras.Model:
    """§3.2's flat/on-model classifier: the recognition models' body (``preprocess``, base net
    with global average pooling, Dropout) with one two-way softmax ``flat_onmodel``
    (0 on-model, 1 flat-lay).

    ``bn_momentum`` replaces the base net's BatchNormalization momentum (Keras: 0.99). A net
    trained from scratch for a few dozen steps (the smoke profile) leaves moving statistics at
    0.99 close to their initial values, and at inference it then gives every image the same
    class, though it fits its training batches; 0.9 lets the statistics follow in time."""
    image = keras.Input((spec.image_size, spec.image_size, 3), name=models.IMAGE_INPUT)
    x = models.preprocessing(spec)(image)
    backbone = models.named_backbone(spec, backbone_factory or models.default_backbone)
    if bn_momentum is not None:
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = float(bn_momentum)
    x = backbone(x)
    x = keras.layers.Dropout(spec.dropout, name=models.FEATURES)(x)
    out = keras.layers.Dense(2, activation="softmax", dtype="float32", name=FLAT_HEAD)(x)
    return keras.Model(image, out, name=f"flat_classifier_{spec.backbone}")


class _Labelled(keras.utils.PyDataset):
    """An :class:`inputs.ImageBatches` with a 0/1 label per image: ``(x, y)`` batches."""

    def __init__(self, batches: inputs.ImageBatches, labels: np.ndarray):
        super().__init__(workers=inputs.default_workers(), use_multiprocessing=False)
        self.batches, self.labels = batches, np.asarray(labels, dtype="int32")

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        (x,) = self.batches[i]
        return x, self.labels[self.batches.batch_indices(i)]


def classifier_probs(model: keras.Model, paths: Sequence[os.PathLike | str], *,
                     batch_size: int = 32) -> np.ndarray:
    """The classifier's flat-lay probability per image."""
    if not len(paths):
        return np.zeros(0, dtype=np.float32)
    if model.output_names != [FLAT_HEAD] or tuple(model.output_shape)[1:] != (2,):
        raise models.ModelFileError(f"model {model.name!r} is not a flat/on-model classifier (one "
                                    f"two-way output {FLAT_HEAD!r}; notebook 04 trains one)")
    size = int(model.input_shape[1])
    batches = inputs.ImageBatches(list(paths), image_size=size, batch_size=batch_size)
    # One input shape (a short last batch padded), so prediction traces once per model.
    probs = np.concatenate(list(prediction.predict_batches(model, batches)))
    return np.asarray(probs, dtype=np.float32)[:, 1]


def train_classifier(root: os.PathLike | str, train_images: Sequence[str],
                     train_flat: np.ndarray, val_images: Sequence[str], val_flat: np.ndarray, *,
                     spec: models.ModelSpec, schedule: Sequence[Mapping], out_dir,
                     val_truth: np.ndarray | None = None, batch_size: int = 32, seed: int = 0,
                     bn_momentum: float | None = None, progress: bool = True,
                     backbone_factory: models.BackboneFactory | None = None) -> pathlib.Path:
    """Train (or reuse) §3.2's classifier on the cascade's flat-lay labels of the training
    images, stage by stage of ``schedule`` (each stage a fresh optimizer, the base net frozen to
    the stage's share). After every stage its verdicts on the validation images are recorded, with
    their accuracy against the cascade's labels (what the paper could measure) and, given
    ``val_truth``, against the truth; :func:`history_table` and :func:`stage_predictions` read
    the records back. Returns the ``model.keras``."""
    stages = parse_schedule(schedule)
    train_paths = [safe_image_path(root, image) for image in train_images]
    val_paths = [safe_image_path(root, image) for image in val_images]
    config = {"data": fashionai.data_fingerprint(root), "spec": spec.to_dict(),
              "history": HISTORY_FORMAT,
              "schedule": [vars(s) for s in stages],
              "train": segmentation.labels_digest(train_images, train_flat),
              "val": segmentation.labels_digest(val_images, val_flat),
              "batch_size": batch_size, "seed": seed, "bn_momentum": bn_momentum}
    if len(set(np.asarray(train_flat, dtype=bool).tolist())) < 2:
        raise ValueError("the cascade put every training image in one class: a flat/on-model "
                         "classifier cannot be trained on one class")

    def fit():
        keras.utils.set_random_seed(seed)
        model = build_classifier(spec, bn_momentum=bn_momentum, backbone_factory=backbone_factory)
        labels = np.asarray(train_flat, dtype=bool)
        history = []
        compiled_for, fresh_state = None, []
        # One seed for the whole run, not one per stage: setting TensorFlow's global seed again
        # makes every traced function trace again (7-14 s per stage here, for the same numbers).
        for k, stage in enumerate(stages, start=1):
            if compiled_for == (stage.optimizer, stage.train_backbone):
                # Same optimizer class and frozen layers as the stage before: a fresh optimizer
                # state and the new rate, not a recompile, which would trace the training step
                # again (7-14 s per stage for the tiny nets on 2 CPU cores), as training.train.
                training._restart_optimizer(model.optimizer, fresh_state, stage.learning_rate)
            else:
                models.set_backbone_trainable(model, stage.train_backbone)
                model.compile(optimizer=training.make_optimizer(stage),
                              loss=keras.losses.SparseCategoricalCrossentropy(),
                              metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
                model.optimizer.build(model.trainable_variables)
                fresh_state = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
                compiled_for = (stage.optimizer, stage.train_backbone)
            for epoch in tqdm(range(1, stage.epochs + 1), disable=not progress, unit="epoch",
                              desc=f"classifier stage {k}/{len(stages)}"):
                order = np.random.default_rng([seed, k, epoch]).permutation(len(train_paths))
                # Whole batches only (another image is left out each epoch): one batch shape,
                # so the training step traces once per compile, not again for a short batch.
                if len(order) >= batch_size:
                    order = order[:len(order) - len(order) % batch_size]
                batches = inputs.ImageBatches(train_paths, image_size=spec.image_size,
                                                batch_size=batch_size, order=order)
                model.fit(_Labelled(batches, labels), epochs=1, verbose=0, shuffle=False)
            predicted = classifier_probs(model, val_paths, batch_size=batch_size) >= 0.5
            record = {"stage": k, "optimizer": stage.optimizer,
                      "learning_rate": stage.learning_rate, "epochs": stage.epochs,
                      "train_backbone": stage.train_backbone,
                      "val_acc_vs_cascade": float(np.mean(predicted == np.asarray(val_flat)))}
            if val_truth is not None:
                record["val_acc_vs_truth"] = float(np.mean(predicted == np.asarray(val_truth)))
            record[VAL_PREDICTIONS] = predicted.astype(int).tolist()
            history.append(record)
        return model, history

    return segmentation.cached_model(out_dir, "classifier", config, fit)


def classifier_beats_majority(predicted_flat: np.ndarray, cascade_flat: np.ndarray) -> dict:
    """Whether the classifier's validation verdicts agree with the cascade's labels more often
    than always answering the cascade's majority class does. A classifier that does not (a net
    trained from scratch that learnt nothing, or the paper's frozen first stage without ImageNet
    weights) must not overrule the cascade: :func:`check_classifier` then keeps stage 2's verdicts
    and says so."""
    predicted, labels = np.asarray(predicted_flat, bool), np.asarray(cascade_flat, bool)
    accuracy = float(np.mean(predicted == labels)) if len(labels) else float("nan")
    majority = float(max(labels.mean(), 1 - labels.mean())) if len(labels) else float("nan")
    return {"accuracy": accuracy, "majority": majority, "used": bool(accuracy > majority)}


def check_classifier(screened: Screened) -> dict:
    """Whether stage 3's verdicts stand: :func:`classifier_beats_majority` on the calibration
    split (``screened.calibration_split()``: the training split where a set is too small to
    spare calibration images, never the validation split, which only scores), recorded on
    ``screened`` (``classifier_used``, ``calibrated_on``). Notebook 04 and the ``screen`` command
    both decide so."""
    split = screened.calibration_split()
    on = screened.in_split(split)
    check = {**classifier_beats_majority(screened.classifier_flat[on], screened.rescreen_flat[on]),
             "images": int(on.sum()), "split": split, "on": SPLIT_WORDS[split]}
    screened.classifier_used = check["used"]
    screened.calibrated_on = split
    return check


def history_table(model_path: os.PathLike | str) -> list[dict]:
    """The classifier's per-stage accuracies (:func:`train_classifier`), with the paper's beside
    the stages it reports (the per-image verdicts: :func:`stage_predictions`)."""
    return [{**{k: v for k, v in row.items() if k != VAL_PREDICTIONS},
             "paper_acc": PAPER_CLASSIFIER_ACCURACY.get(row["stage"])}
            for row in segmentation.read_history(model_path)]


def stage_predictions(model_path: os.PathLike | str) -> dict[int, np.ndarray]:
    """Stage -> the classifier's flat-lay verdict on each validation image after that stage (in
    the order :func:`train_classifier` was given them)."""
    return {row["stage"]: np.asarray(row[VAL_PREDICTIONS], dtype=bool)
            for row in segmentation.read_history(model_path)}
