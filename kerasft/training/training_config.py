"""The Trainer's settings, apart from the model's hyperparameters."""

import dataclasses

from kerasft.checks import check_batch_size, check_bool, check_int


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """How a `Trainer` runs; logged with the run so it can be reproduced.

    Args:
        jit_compile: bool. Compile each step with XLA (TPUs require it).
        steps_per_execution: int. Steps run inside one `tf.function` call;
            batches are pulled inside the graph and metrics are read once
            per call. Larger values cut Python overhead per step.
        run_eagerly: bool. Run steps eagerly (for debugging only).
        average: str or None. Precision / recall / F1 averaging; None picks
            binary for two classes, macro otherwise.
        batch_size: int. Used only when `fit` receives NumPy arrays.
        gradient_accumulation_steps: int. Batches whose gradients are
            averaged into one optimizer update (1: update every batch).
            The step count, learning-rate schedule, EMA, TensorBoard's step
            axis and a Checkpointer's `save_freq` count updates;
            `steps_per_execution` and `steps_per_epoch` count batches.
    """

    jit_compile: bool = False
    steps_per_execution: int = 1
    run_eagerly: bool = False
    average: str | None = None
    batch_size: int = 32
    gradient_accumulation_steps: int = 1

    def __post_init__(self):
        check_bool("jit_compile", self.jit_compile)
        check_bool("run_eagerly", self.run_eagerly)
        if (
            not isinstance(self.steps_per_execution, int)
            or self.steps_per_execution < 1
        ):
            raise ValueError(
                "`steps_per_execution` must be an int >= 1. Received: "
                f"steps_per_execution={self.steps_per_execution!r}"
            )
        check_batch_size(self.batch_size)
        check_int("gradient_accumulation_steps",
                  self.gradient_accumulation_steps)
        if self.average not in (None, "binary", "macro", "micro"):
            raise ValueError(
                "`average` must be None, 'binary', 'macro' or 'micro'. "
                f"Received: average={self.average!r}"
            )

    @classmethod
    def from_kwargs(cls, **kwargs):
        """A config from keyword arguments, naming any it does not know."""
        fields = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(kwargs) - set(fields))
        if unknown:
            hint = (" (epochs, callbacks and validation data go to fit())"
                    if set(unknown) & {"epochs", "callbacks", "verbose",
                                       "validation_data"} else "")
            raise TypeError(
                f"Unknown Trainer argument(s) {unknown}{hint}. Accepted "
                f"settings: {fields}. Received: "
                + ", ".join(f"{k}={kwargs[k]!r}" for k in unknown)
            )
        return cls(**kwargs)
