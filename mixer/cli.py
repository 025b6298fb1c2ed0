"""The command line of train.py: `train` (the default), `evaluate`, `predict`, `import-seed-checkpoint`,
`pretrain-mae` and `pretrain-vae`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from . import data as unsw
from .checkpoint import CheckpointError, load_checkpoint
from .metrics import confusion_matrix
from .pretrain import PRETRAIN_FLAG_HELP, MAEPretrainConfig, VAEPretrainConfig, pretrain_mae, pretrain_vae
from .seed_import import import_seed_checkpoint
from .training import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
    evaluate,
    format_confusion,
    format_metrics,
    load_trained,
    predict_proba,
    write_predictions,
)

FLAG_HELP = {
    "model": "mlp-mixer | convnext | hybrid | resnext", "dim": "channels per token", "depth": "number of Mixer blocks",
    "patch_size": "features per token (convolutional models: the stem's stride)",
    "block": "conv block of --model hybrid: convnext | resnext | resnet",
    "kernel_size": "conv kernel size of the convolutional models (0: the model's default)",
    "num_stages": "stages of the convolutional models (each halves the length, doubles channels)",
    "mixers_per_stage": "Mixer blocks after the conv blocks of each stage (--model hybrid)",
    "dropout": "dropout inside the MLPs",
    "drop_path": "stochastic-depth rate of the last block (rising linearly from 0)",
    "epochs": "training epochs", "batch_size": "rows per micro-batch",
    "accum_steps": "micro-batches accumulated per optimiser step (effective batch = batch_size * accum_steps)",
    "optimizer": "adam | adamw | sgd", "lr": "peak learning rate", "weight_decay": "on weight matrices only",
    "clip_grad_norm": "max global gradient norm (0: off)", "scheduler": "none | cosine | sharp-cosine | warm-restarts",
    "warmup_epochs": "linear warm-up length (epochs, may be fractional)", "eta_min": "final learning rate",
    "t0": "first restart period (epochs) for warm-restarts", "t_mult": "period growth for warm-restarts",
    "preprocess": "quantile | log-standard | seed",
    "categorical": "proto/service/state: embed (a learned vector per category, mlp-mixer) | numeric (codes scaled "
                   "like numbers) | auto (embed where the model can)",
    "task": "binary | multiclass (needs attack_cat)",
    "seed": "makes the run repeatable bit for bit", "holdout": "fraction of train kept out for model selection",
    "data_dir": "folder with the UNSW-NB15 CSVs", "out": "output folder", "eval_batch_size": "rows per eval batch",
    "init_from_mae": "initialise the classifier's encoder from this `pretrain-mae` checkpoint (runs/NAME/mae.npz)",
    "freeze_encoder": "with --init-from-mae: train only what the MAE did not provide (linear probe)",
    "latent_noise": "std of the Gaussian noise added in the VAE's latent space to augment rows (0: off)",
    "latent_model": "the `pretrain-vae` checkpoint (runs/NAME/vae.npz) used by --latent-noise",
    "token_mixer": "mlp-mixer token mixing: mlp | lambda (LambdaLayer1D, Bello 2021)",
    "stem": "mlp-mixer embedding: linear (patches) | inception (InceptionBlock1D, then patches)",
    "sam": "sharpness-aware minimisation around the optimiser: none | sam | asam | ssam-f | ssam-d "
           "(SparseSAM, Fisher / dynamic mask); doubles the forward and backward passes",
    "sam_rho": "SAM's neighbourhood radius", "sam_sparsity": "SparseSAM: fraction of entries not perturbed",
    "sam_update_freq": "SparseSAM: steps between mask refreshes",
    "sam_num_samples": "ssam-f: steps whose squared gradients make the Fisher score (<= --sam-update-freq)",
    "sam_drop_rate": "ssam-d: fraction of the mask dropped and regrown per refresh (cosine-decayed over the run)",
    "noise_scale": "std of Gaussian noise added to every update (0: off)",
    "noise_schedule": "noise std over steps: constant | cosine | power",
    "noise_power": "power schedule: std * (t_ref / max(t, t_ref)) ** power",
    "noise_reference_epochs": "power schedule: t_ref in epochs (constant noise before it)",
}


def add_config_flags(parser: argparse.ArgumentParser, config_class: type, help_texts: dict[str, str]) -> None:
    """One flag per dataclass field, default None so that only flags given override; a bool field is a switch
    (--name / --no-name)."""
    for field in dataclasses.fields(config_class):
        flag = "--" + field.name.replace("_", "-")
        help_text = f"{help_texts[field.name]} (default {field.default})"
        if str(field.type) == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        kind = {"int": int, "float": float}.get(str(field.type), str)
        parser.add_argument(flag, type=kind, default=None, help=help_text)


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; default None so that only flags given override the config file."""
    add_config_flags(parser, TrainConfig, FLAG_HELP)
    parser.add_argument("--config", help="a JSON or TOML file of the same settings (flags win)")
    parser.add_argument("--resume", help="continue the run saved in this checkpoint (e.g. runs/NAME/last.npz)")


def read_config_file(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"config file {path} does not exist")
    if file.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:
            raise ValueError("TOML config files need Python 3.11+; use JSON") from None
        values = tomllib.loads(file.read_text())
    else:
        try:
            values = json.loads(file.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"config file {path}: {error}") from None
    return {key.replace("-", "_"): value for key, value in values.items()}


def run_train(args: argparse.Namespace) -> int:
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name) is not None}
    if args.resume:
        checkpoint = load_checkpoint(args.resume)
        settings = {**checkpoint["config"], **{k: v for k, v in flags.items() if k in ("out", "data_dir")}}
        if set(flags) - {"out", "data_dir"}:
            raise ValueError("--resume continues a run with its own configuration; only --out and --data-dir "
                             f"may be given, not {', '.join(sorted(set(flags) - {'out', 'data_dir'}))}")
        trainer = Trainer(TrainConfig.from_dict(settings))
        trainer.restore(checkpoint)
        print(f"resuming {args.resume} after epoch {trainer.epoch}")
    else:
        settings = read_config_file(args.config) if args.config else {}
        trainer = Trainer(TrainConfig.from_dict({**settings, **flags}))
    trainer.fit()
    return 0


def _split_for(checkpoint: dict[str, Any], csv: str, labelled: bool = True) -> unsw.Split:
    """A CSV preprocessed exactly as the checkpoint's training data was."""
    encoder, preprocessor = unsw.preprocessing_from_state(checkpoint["preprocessing"])
    multiclass = labelled and checkpoint["config"]["task"] == "multiclass"
    return unsw.load_prediction_csv(csv, encoder, preprocessor,
                                    class_names=checkpoint["class_names"] if multiclass else None)


def run_evaluate(args: argparse.Namespace) -> int:
    model, checkpoint = load_trained(args.checkpoint)
    csv = args.csv or unsw.dataset_files(unsw.find_data_dir(args.data_dir or checkpoint["config"]["data_dir"]))["valid"]
    split = _split_for(checkpoint, csv)
    if split.labels is None:
        raise unsw.DataError(f"{csv} has no label column; use `predict` for unlabelled rows")
    metrics = evaluate(model, split)
    print(f"{split.source}: " + format_metrics(metrics))
    probabilities = predict_proba(model, split.features)
    predicted = probabilities >= 0.5 if probabilities.ndim == 1 else probabilities.argmax(axis=1)
    print(format_confusion(confusion_matrix(split.labels, predicted.astype(int), len(checkpoint["class_names"])),
                           checkpoint["class_names"]))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    model, checkpoint = load_trained(args.checkpoint)
    split = _split_for(checkpoint, args.csv, labelled=False)
    write_predictions(Path(args.output), model, split, checkpoint["class_names"])
    print(f"wrote {len(split.ids)} predictions to {args.output}")
    return 0


def run_import_seed_checkpoint(args: argparse.Namespace) -> int:
    """Convert a checkpoint of the original numpy code into a checkpoint of ours."""
    overrides = {name: value for name, value in (("lr", args.lr), ("epochs", args.epochs)) if value is not None}
    checkpoint = import_seed_checkpoint(args.file, dim=args.dim, depth=args.depth, patch_size=args.patch_size,
                                        out=args.out, trust_pickle=args.trust_pickle, data_dir=args.data_dir,
                                        config=overrides)
    steps = sorted({entry["step"] for entry in checkpoint["optimizer"]["state"].values()})
    print(f"wrote {args.out}: {len(checkpoint['model'])} parameters of MLPMixer1D(dim={args.dim}, depth={args.depth}, "
          f"patch_size={args.patch_size}), Adam state with step counts {steps or 'none'}")
    if checkpoint["preprocessing"] is None:
        print("no preprocessing stored (the original file has none): use it with load_trained on preprocessed "
              "arrays or with --resume; for evaluate and predict import again with --data-dir")
    return 0


def _given(args: argparse.Namespace, config_class: type) -> dict[str, Any]:
    """The fields of `config_class` given on the command line."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_class)}
    return {name: value for name, value in values.items() if value is not None}


def run_pretrain_mae(args: argparse.Namespace) -> int:
    """Pretrain a Mixer masked autoencoder on the training rows (no labels)."""
    result = pretrain_mae(MAEPretrainConfig(**_given(args, MAEPretrainConfig)))
    print(f"wrote {result['checkpoint']}; fine-tune with `python train.py --init-from-mae {result['checkpoint']}` "
          "and the same --dim, --depth, --patch-size (add --freeze-encoder for a linear probe)")
    return 0


def run_pretrain_vae(args: argparse.Namespace) -> int:
    """Pretrain a tabular VAE on the training rows (no labels)."""
    result = pretrain_vae(VAEPretrainConfig(**_given(args, VAEPretrainConfig)))
    print(f"wrote {result['checkpoint']}; augment a classifier with `python train.py --latent-model "
          f"{result['checkpoint']} --latent-noise 0.5`")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="train.py", description="Train, evaluate and use MLP-Mixer models on "
                                     "UNSW-NB15. With no subcommand: train the default model.")
    commands = parser.add_subparsers(dest="command")
    add_train_flags(commands.add_parser("train", help="train a model (the default)"))
    evaluate_parser = commands.add_parser("evaluate", help="metrics of a checkpoint on testing1 or a labelled CSV")
    evaluate_parser.add_argument("--checkpoint", required=True)
    evaluate_parser.add_argument("--csv", help="a labelled CSV (default: the run's validation file)")
    evaluate_parser.add_argument("--data-dir")
    predict_parser = commands.add_parser("predict", help="write id, probability, predicted label for a CSV")
    predict_parser.add_argument("--checkpoint", required=True)
    predict_parser.add_argument("--csv", required=True)
    predict_parser.add_argument("--output", required=True)
    import_parser = commands.add_parser("import-seed-checkpoint", help="convert a checkpoint (.npy) of the original "
                                        "numpy code into ours")
    import_parser.add_argument("file", metavar="FILE.npy", help="a checkpoint saved by the original numpy code")
    import_parser.add_argument("--dim", type=int, required=True, help="channels per token of the saved model")
    import_parser.add_argument("--depth", type=int, required=True, help="Mixer blocks of the saved model")
    import_parser.add_argument("--patch-size", type=int, required=True, help="features per token of the saved model")
    import_parser.add_argument("--out", required=True, metavar="CKPT", help="the checkpoint to write (.npz)")
    import_parser.add_argument("--trust-pickle", action="store_true", help="the file is a pickle, and unpickling "
                               "can run code from it: load it only if you trust its source")
    import_parser.add_argument("--data-dir", help="UNSW-NB15 folder: store the preprocessing that evaluate and "
                               "predict need (seed mode, fitted on its training CSV)")
    import_parser.add_argument("--lr", type=float, help="learning rate for continued training (default 1e-3)")
    import_parser.add_argument("--epochs", type=int, help="epochs a --resume of the imported checkpoint trains")
    add_config_flags(commands.add_parser("pretrain-mae", help="pretrain a Mixer masked autoencoder (He et al. 2022) "
                                         "on the training rows"), MAEPretrainConfig, PRETRAIN_FLAG_HELP)
    add_config_flags(commands.add_parser("pretrain-vae", help="pretrain a tabular VAE (Kingma & Welling 2014) on "
                                         "the training rows"), VAEPretrainConfig, PRETRAIN_FLAG_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("train", "evaluate", "predict", "import-seed-checkpoint", "pretrain-mae",
                                   "pretrain-vae", "-h", "--help"):
        argv = ["train", *argv]
    args = build_parser().parse_args(argv)
    commands = {"train": run_train, "evaluate": run_evaluate, "predict": run_predict,
                "import-seed-checkpoint": run_import_seed_checkpoint, "pretrain-mae": run_pretrain_mae,
                "pretrain-vae": run_pretrain_vae}
    try:
        return commands[args.command](args)
    except (unsw.DataError, CheckpointError, ValueError, TrainingDiverged, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
