"""The quickstart: pretrain, save, load, freeze, fine-tune, offline.

A conv network learns digits 0-4 of scikit-learn's bundled digits (the
source task); it is saved as `.keras` and loaded back; a new head replaces
the old one, the feature extractor is frozen, and the head alone learns
digits 5-9 (the target task). Both stages report test accuracy, and a table
shows which parameters train in each stage. TensorBoard logs (scalars per
epoch, weight and gradient histograms every 5 epochs, the run's settings)
go to `<output_dir>/logs/{pretrain,finetune}`.
"""

import dataclasses
import json
from pathlib import Path

import keras

from kerasft import data, freezing
from kerasft.checks import check_keras_file
from kerasft.models import ConvNetwork
from kerasft.training import TensorBoardLogger, Trainer


@dataclasses.dataclass(frozen=True)
class QuickstartConfig:
    """Settings of the quickstart run.

    Args:
        output_dir: folder for the saved models and TensorBoard logs.
        pretrain_epochs: epochs on digits 0-4.
        finetune_epochs: epochs of the new head on digits 5-9.
        batch_size: examples per step.
        learning_rate: Adam's learning rate, both stages.
        seed: seeds the splits, the weights and the shuffling.
    """

    output_dir: str = "runs/quickstart"
    pretrain_epochs: int = 20
    finetune_epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 2e-3
    seed: int = 0


def _task_datasets(images, labels, classes, config):
    """Seeded 70/10/20 split of the digits in `classes`, labels from 0."""
    keep = (labels >= classes[0]) & (labels <= classes[-1])
    train, val, test = data.train_val_test_split(
        images[keep],
        labels[keep] - classes[0],
        val_fraction=0.1,
        test_fraction=0.2,
        seed=config.seed,
        stratify=True,
    )

    def batches(part, shuffle):
        return data.make_dataset(
            *part, batch_size=config.batch_size, shuffle=shuffle,
            seed=config.seed,
        )

    return batches(train, True), batches(val, False), batches(test, False)


def run_quickstart(config=QuickstartConfig(), verbose=1):
    """Runs the quickstart and returns its results as a dict.

    Args:
        config: a `QuickstartConfig`.
        verbose: 0 only the summary, 1 progress bars, 2 a line per epoch.

    Returns:
        A dict with `pretrain_test_accuracy`, `finetune_test_accuracy`,
        `model_path`, `log_dir` and the parameter `table` (a string).

    Example:
    >>> results = run_quickstart(QuickstartConfig(output_dir="/tmp/qs",
    ...     pretrain_epochs=1, finetune_epochs=1), verbose=0)
    >>> sorted(results)[:2]
    ['finetune_test_accuracy', 'log_dir']
    """
    say = print if verbose else (lambda *args, **kwargs: None)
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    log_dir = output_dir / "logs"
    keras.utils.set_random_seed(config.seed)

    images, labels = data.load_digits_arrays()
    images = data.scale(images, input_range=(0, 16))  # (1797, 8, 8, 1)
    source = _task_datasets(images, labels, range(0, 5), config)
    target = _task_datasets(images, labels, range(5, 10), config)

    say("== Stage 1: pretrain the conv network on digits 0-4")
    model = ConvNetwork(filters=(32, 64), hidden_dim=64, dropout=0.1,
                        num_classes=5)
    trainer = Trainer(model, optimizer="adam",
                      learning_rate=config.learning_rate,
                      metrics=["accuracy"])
    trainer.fit(
        source[0], validation_data=source[1],
        epochs=config.pretrain_epochs, verbose=verbose,
        callbacks=[TensorBoardLogger(log_dir / "pretrain", histogram_freq=5,
                                     hparams={"stage": "pretrain"})],
    )
    pretrain_results = trainer.evaluate(source[2])
    model_path = output_dir / "pretrained.keras"
    model.save(model_path)
    say(f"Saved the pretrained model to {model_path}")

    say("== Stage 2: load it, freeze the feature extractor, fine-tune a "
        "new head on digits 5-9")
    # Checked: a disk that filled up mid-save leaves a cut-short archive.
    loaded = keras.models.load_model(check_keras_file("model_path",
                                                      model_path))
    finetuned = loaded.with_new_head(num_classes=5)
    before = freezing.parameter_report(finetuned, max_depth=2)
    freezing.freeze(finetuned, "feature_extractor")
    after = freezing.parameter_report(finetuned, max_depth=2)
    table = freezing.compare_parameter_reports(
        {"pretrain (all trainable)": before, "fine-tune (frozen)": after}
    )
    trainer = Trainer(finetuned, optimizer="adam",
                      learning_rate=config.learning_rate,
                      metrics=["accuracy", "f1"])
    trainer.fit(
        target[0], validation_data=target[1],
        epochs=config.finetune_epochs, verbose=verbose,
        callbacks=[TensorBoardLogger(log_dir / "finetune", histogram_freq=5,
                                     hparams={"stage": "finetune"})],
    )
    finetune_results = trainer.evaluate(target[2])
    finetuned.save(output_dir / "finetuned.keras")

    results = {
        "pretrain_test_accuracy": pretrain_results["accuracy"],
        "finetune_test_accuracy": finetune_results["accuracy"],
        "finetune_test_f1": finetune_results["f1"],
        "model_path": str(model_path),
        "log_dir": str(log_dir),
        "table": table,
    }
    # The summary is the job's output: printed at every verbosity.
    print("\nTrainable parameters per layer, before and after the freeze:")
    print(table)
    print(f"\nPretrain (digits 0-4) test accuracy:  "
          f"{results['pretrain_test_accuracy']:.4f}")
    print(f"Fine-tune (digits 5-9) test accuracy: "
          f"{results['finetune_test_accuracy']:.4f} (frozen extractor)")
    print(f"TensorBoard logs: {log_dir}  (tensorboard --logdir {log_dir})")
    summary = {k: v for k, v in results.items() if k != "table"}
    (output_dir / "results.json").write_text(json.dumps(summary, indent=2))
    return results
