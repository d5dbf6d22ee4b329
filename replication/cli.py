"""Command line: ``python -m replication <command>``.

Commands: ``validate``, ``evaluate``, ``synth``, ``predict``, ``reproduce``, ``bench``. Machine-readable
results (JSON) go to stdout; progress bars and messages go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from replication.nets import registry  # plain data: the parser starts no Keras backend


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _error(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def cmd_validate(args) -> int:
    from replication.data import fashionai

    try:
        report = fashionai.validate(args.root, decode=not args.no_decode, workers=args.workers,
                                    progress=not args.no_progress)
    except fashionai.DataError as err:
        return _error(str(err))
    _print_json(report)
    return 0 if report["rows"] > 0 else 1


def cmd_evaluate(args) -> int:
    from replication.data import fashionai, metric

    try:
        scores = metric.evaluate_files(args.truth, args.pred)
    except fashionai.DataError as err:
        return _error(str(err))
    _print_json(scores)
    return 0


def cmd_synth(args) -> int:
    from replication import synthetic

    summary = synthetic.generate(args.out, images_per_task=args.images_per_task, seed=args.seed,
                                 size=args.size, workers=args.workers, progress=not args.no_progress)
    _print_json(summary)
    return 0


def cmd_predict(args) -> int:
    from replication.data import fashionai
    from replication.learning import models, prediction
    from replication.screening.screen_csv import ScreenedFlatFlags

    if args.truth_flags and args.screen_flags:
        return _error("give --truth-flags or --screen-flags, not both")
    try:
        records = prediction.predict_main(
            args.model, args.weights, args.inputs, root=args.root,
            flags=(models.TruthFlatFlags(args.truth_flags) if args.truth_flags else
                   ScreenedFlatFlags(args.screen_flags, root=args.root)
                   if args.screen_flags else None),
            answer=args.answer, flip_tta=not args.no_flip, progress=not args.no_progress)
    except (fashionai.DataError, ValueError, KeyError, FileNotFoundError) as err:
        return _error(str(err).strip("'\""))
    _print_json(records)
    return 0


def cmd_screen(args) -> int:
    from replication.book.profiles import HOME
    from replication.data import fashionai
    from replication.learning import models
    from replication.screening import scoring, screen, screen_csv

    work = args.work or HOME / "results" / "screen" / args.root.resolve().name
    try:
        screened, calibration, classifier_check = screen.screen_root(
            args.root, work_dir=work, parser_model=args.parser, detector=args.detector,
            classifier_model=args.classifier, threshold=args.threshold,
            parser_epochs=args.parser_epochs, person_epochs=args.person_epochs, seed=args.seed,
            progress=not args.no_progress)
    except (FileNotFoundError, ValueError, KeyError, models.ModelFileError,
            fashionai.DataError) as err:
        return _error(str(err).strip("'\""))
    for image, reason in screened.skipped:
        print(f"skipped {image}: {reason}", file=sys.stderr)
    path = screen_csv.write_screen(screened, args.out, root=args.root)
    _print_json({"csv": str(path), "provenance": str(screen_csv.provenance_path(path)),
                 "calibration": calibration, **scoring.summary(screened),
                 "classifier_check": classifier_check})
    return 0


def cmd_reproduce(args) -> int:
    from replication.book.reproduce import PRETRAINING, NotebookFailed, list_notebooks, reproduce

    import yaml

    overrides = {}
    for item in args.param or []:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            return _error(f"--param wants NAME=VALUE, got {item!r}")
        overrides[name] = yaml.safe_load(value) if value else ""
    try:
        if not any(p.stem == PRETRAINING for p in list_notebooks(args.only)):
            from replication.book import edition

            for path in edition.restore_pretrained(args.profile):
                print(f"[{args.profile}] chapter 0 is not run: using the edition's {path.name}",
                      file=sys.stderr)
        reproduce(args.profile, only=args.only, data_root=args.data_root, overrides=overrides,
                  book=not args.no_book, progress=not args.no_progress, jobs=args.jobs)
    except NotebookFailed as err:
        return _error(str(err))
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as err:
        return _error(str(err).strip("'\""))
    return 0


def cmd_edition(args) -> int:
    from replication.book import edition

    try:
        path = edition.write()
    except FileNotFoundError as err:
        return _error(str(err))
    print(f"edition written: {path}; build its book with `python -m replication book`")
    return 0


def cmd_book(args) -> int:
    from replication.book import edition

    try:
        index = edition.build()
    except (FileNotFoundError, RuntimeError) as err:
        return _error(str(err))
    print(f"the results edition's book: {index}")
    return 0


def cmd_bench(args) -> int:
    if args.what == "models":
        from replication.bench import models

        models.bench_models(nets=args.nets or models.NETS,
                            variants=args.variants or models.VARIANTS, sizes=args.sizes,
                            batch_size=args.batch_size or models.DEFAULT_BATCH,
                            steps=args.steps, warmup=args.warmup,
                            train={"auto": None, "all": True, "none": False}[args.train],
                            timm=False if args.no_timm else None,
                            isolate={"auto": None, "yes": True, "no": False}[args.isolate],
                            seed=args.seed, out=args.json)
    elif args.what == "pipeline":
        from replication.bench import pipeline

        pipeline.bench_input_pipeline(size=args.size or 480, images=args.images,
                                      batch_size=args.batch_size or 8,
                                      train_steps=args.train_steps, root=args.root)
    elif args.what == "synth":
        from replication.bench import synth

        synth.bench_synth(images_per_task=args.images_per_task, size=args.size or 256,
                          seed=args.seed, workers=args.workers)
    elif args.what == "learnability":
        root = args.root
        if root is None:
            import tempfile

            from replication import synthetic

            root = Path(tempfile.mkdtemp(prefix="learnability-"))
            synthetic.generate(root, images_per_task=args.images_per_task, seed=args.seed,
                               size=args.size or 256, workers=args.workers)
        from replication.bench import learnability

        learnability.learnability(root, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m replication", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a FashionAI folder; JSON report of usable rows and problems")
    p.add_argument("root", type=Path, help="folder holding Annotations/label.csv and Images/")
    p.add_argument("--no-decode", action="store_true", help="check that images exist, do not decode them")
    p.add_argument("--workers", type=int, default=None, help="decoding threads (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("evaluate", help="score an answer.csv with the official FashionAI metric")
    p.add_argument("--truth", type=Path, required=True, help="label.csv with the true labels")
    p.add_argument("--pred", type=Path, required=True, help="answer.csv: image,task,p0;p1;...")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("synth", help="render the synthetic data set in the FashionAI layout")
    p.add_argument("--out", type=Path, required=True, help="folder to write (FashionAI layout + Truth/)")
    p.add_argument("--images-per-task", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=256, help="long side of each image in px (default 256)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("predict", help="predict attributes with flip TTA and a weighted ensemble")
    p.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_QUESTION_CSV",
                   help="image files and/or FashionAI question.csv files")
    p.add_argument("--model", action="append", required=True, type=Path,
                   help="a trained .keras model (repeat for an ensemble); loaded in safe mode")
    p.add_argument("--weights", nargs="+", type=float,
                   help="ensemble weights, one per model, summing to 1 (default: equal)")
    p.add_argument("--root", type=Path, default=None,
                   help="data root for question.csv images (default: the CSV's folder's parent)")
    p.add_argument("--answer", type=Path, default=None, help="also write a FashionAI answer.csv")
    p.add_argument("--truth-flags", type=Path, metavar="SYNTHETIC_ROOT", default=None,
                   help="dual-channel models: flat/on-model flags from a synthetic set's truth")
    p.add_argument("--screen-flags", type=Path, metavar="SCREEN_CSV", default=None,
                   help="dual-channel models: flat/on-model flags from `screen`'s CSV")
    p.add_argument("--no-flip", action="store_true", help="no horizontal-flip test-time averaging")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("screen", help="flat-lay / on-model screening (paper §3.2) of length images "
                                      "or a folder of photos; writes a CSV")
    p.add_argument("root", type=Path, help="a FashionAI folder (its length images are screened) "
                                           "or any folder of image files")
    p.add_argument("--out", type=Path, required=True,
                   help="the CSV to write (one row per image), its provenance beside it as "
                        "CSV.json (the data it screens: dual-channel models check it)")
    p.add_argument("--parser", type=Path, default=None, metavar="MODEL.keras",
                   help="a LIP human parser (Keras 3, safe mode); default: on a synthetic root, "
                        "the default parser trained on it; elsewhere, none (stage 1 skipped)")
    from replication.screening.person_detection import DETECTORS  # numpy only: cheap to import

    p.add_argument("--detector", choices=["auto", *DETECTORS], default="auto",
                   help="stage 2's person detector (auto: the learned segmenter on a synthetic "
                        "root, OpenCV HOG + Haar faces elsewhere)")
    p.add_argument("--classifier", type=Path, default=None, metavar="MODEL.keras",
                   help="stage 3: a flat/on-model classifier (notebook 04 trains one); on a "
                        "synthetic root used only where it beats the majority class on the "
                        "calibration split, as in notebook 04")
    p.add_argument("--threshold", type=float, default=None,
                   help="the rule's share of pixels (default: calibrated on a synthetic root's "
                        "calibration split, else 0.002)")
    p.add_argument("--work", type=Path, default=None,
                   help="where models trained here are kept (default results/screen/<root name>)")
    p.add_argument("--parser-epochs", type=int, default=10)
    p.add_argument("--person-epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser("reproduce", help="run the notebooks with papermill and build the book")
    p.add_argument("--profile", default="smoke", help="smoke (default), synthetic or paper")
    p.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks, e.g. --only 01")
    p.add_argument("--data-root", type=Path, default=None,
                   help="FashionAI folder (paper profile; default $FASHIONAI_ROOT)")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                   help="set a notebook parameter over the profile's value (YAML value), e.g. "
                        "-p 'weights={inception_v4: /path/inception_v4.safetensors}'")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="run up to N notebooks at once, each after those it reads from "
                        "(default $REPLICATION_JOBS, else the profile's: synthetic 2, others 1; the numbers do not depend on it)")
    p.add_argument("--no-book", action="store_true", help="run the notebooks, skip the book build")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("edition", help="copy the finished synthetic run in this home into edition/ "
                                       "(the results edition the book is built from)")
    p.set_defaults(func=cmd_edition)

    p = sub.add_parser("book", help="build the HTML book from the committed results edition "
                                    "(edition/), without training")
    p.set_defaults(func=cmd_book)

    p = sub.add_parser("bench", help="benchmarks that print numbers")
    p.add_argument("what", nargs="?", default="models",
                   choices=["models", "pipeline", "synth", "learnability"],
                   help="models (default): train/infer images/s and peak memory per base net and "
                        "size, with timm's ratios when torch and timm are installed; pipeline: input "
                        "pipeline rates (imgaug vs the in-model twin) and the cores imgaug needs; "
                        "synth: synthetic rendering rate; learnability: majority class vs logistic "
                        "regression per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=None,
                   help="pipeline: input side (default 480); synth/learnability: image side (256)")
    p.add_argument("--batch-size", type=int, default=None, help="models (8), pipeline (8)")
    p.add_argument("--root", type=Path, default=None,
                   help="pipeline/learnability: an existing data folder (default: render one)")
    models = p.add_argument_group("models")
    models.add_argument("--nets", nargs="+", choices=registry.names())
    models.add_argument("--variants", nargs="+", choices=registry.variant_names())
    models.add_argument("--sizes", nargs="+", type=int, default=None,
                        help="input sides (default: tiny/small 128, canonical 299)")
    models.add_argument("--steps", type=int, default=3)
    models.add_argument("--warmup", type=int, default=1)
    models.add_argument("--train", choices=["auto", "all", "none"], default="auto",
                        help="auto: every variant but canonical on a CPU")
    models.add_argument("--isolate", choices=["auto", "yes", "no"], default="auto",
                        help="a fresh process per measurement (auto: on a CPU)")
    models.add_argument("--no-timm", action="store_true", help="no timm comparison")
    models.add_argument("--json", type=Path, default=None, help="also write the records here")
    pipeline = p.add_argument_group("pipeline")
    pipeline.add_argument("--images", type=int, default=64)
    pipeline.add_argument("--train-steps", type=int, default=3)
    data = p.add_argument_group("synth / learnability")
    data.add_argument("--images-per-task", type=int, default=1000)
    data.add_argument("--workers", type=int, default=None)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
