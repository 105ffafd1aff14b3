import keras

from kerasft.checks import check_int, check_real


@keras.saving.register_keras_serializable(package="kerasft")
class LinearWarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to a peak, then linear decay: BERT's schedule.

    The rate rises linearly from 0 at step 0 to `peak_learning_rate` at
    `warmup_steps`, then falls linearly to `end_learning_rate` at
    `total_steps` and stays there. This is the schedule of the BERT paper
    and of Hugging Face's `get_linear_schedule_with_warmup`.

    Keras has no such schedule: `CosineDecay` warms up linearly but then
    decays along a cosine, and `PolynomialDecay(power=1.0)` decays linearly
    without a warmup.

    Args:
        peak_learning_rate: float. The rate reached at `warmup_steps`, > 0.
        warmup_steps: int. Steps of the warmup, from 0 to `total_steps`
            (0: start at the peak).
        total_steps: int. The step where the decay ends, >= 1.
        end_learning_rate: float. The final rate, from 0 to
            `peak_learning_rate`. Defaults to `0.0`.

    Example:
    ```python
    schedule = LinearWarmupDecay(5e-5, warmup_steps=100, total_steps=1000)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule)
    float(schedule(50))  # 2.5e-05
    ```
    """

    def __init__(
        self,
        peak_learning_rate,
        warmup_steps,
        total_steps,
        end_learning_rate=0.0,
    ):
        super().__init__()
        check_real("peak_learning_rate", peak_learning_rate, low=0,
                   low_open=True)
        check_real("end_learning_rate", end_learning_rate, low=0)
        check_int("warmup_steps", warmup_steps, minimum=0)
        check_int("total_steps", total_steps, minimum=1)
        if warmup_steps > total_steps:
            raise ValueError(
                "`warmup_steps` must not exceed `total_steps`. Received: "
                f"warmup_steps={warmup_steps!r}, total_steps={total_steps!r}"
            )
        if end_learning_rate > peak_learning_rate:
            raise ValueError(
                "`end_learning_rate` must not exceed `peak_learning_rate` "
                "(the schedule decays). Received: end_learning_rate="
                f"{end_learning_rate!r}, peak_learning_rate="
                f"{peak_learning_rate!r}"
            )
        # === Config ===
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.end_learning_rate = float(end_learning_rate)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        peak = self.peak_learning_rate
        warmup = float(self.warmup_steps)
        # max(..., 1): no division by zero when warmup is 0 or the total.
        warm = peak * step / max(warmup, 1.0)
        progress = (step - warmup) / max(self.total_steps - warmup, 1.0)
        progress = keras.ops.clip(progress, 0.0, 1.0)
        decay = peak + (self.end_learning_rate - peak) * progress
        return keras.ops.where(step < warmup, warm, decay)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "end_learning_rate": self.end_learning_rate,
        }

