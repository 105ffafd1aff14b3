import re

import keras
import numpy as np
import pytest

from kerasft.finetuning import LinearWarmupDecay


def test_values_by_hand():
    schedule = LinearWarmupDecay(1e-3, warmup_steps=10, total_steps=110,
                                 end_learning_rate=1e-5)
    steps = [0, 1, 5, 10, 60, 110, 500]
    # Warmup: 1e-3 * step / 10. Decay: from 1e-3 at 10 to 1e-5 at 110.
    expected = [0.0, 1e-4, 5e-4, 1e-3, (1e-3 + 1e-5) / 2, 1e-5, 1e-5]
    values = [float(schedule(step)) for step in steps]
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-12)


def test_no_warmup_starts_at_the_peak():
    schedule = LinearWarmupDecay(2e-5, warmup_steps=0, total_steps=4)
    values = [float(schedule(step)) for step in range(5)]
    np.testing.assert_allclose(values, [2e-5, 1.5e-5, 1e-5, 5e-6, 0.0],
                               atol=1e-12)


def test_config_round_trip_and_inside_an_optimizer():
    schedule = LinearWarmupDecay(3e-5, warmup_steps=7, total_steps=70,
                                 end_learning_rate=1e-6)
    assert schedule.get_config() == {
        "peak_learning_rate": 3e-5, "warmup_steps": 7, "total_steps": 70,
        "end_learning_rate": 1e-6,
    }
    # Registered: deserializes by name, also as an optimizer's rate.
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule))
    assert type(restored) is LinearWarmupDecay
    assert restored.get_config() == schedule.get_config()
    optimizer = keras.optimizers.AdamW(learning_rate=schedule)
    copy = keras.optimizers.AdamW.from_config(optimizer.get_config())
    assert float(copy.learning_rate) == 0.0  # iterations = 0
    copy.iterations.assign(7)
    assert float(copy.learning_rate) == pytest.approx(3e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"warmup_steps": 11, "total_steps": 10},
         "must not exceed `total_steps`. Received: warmup_steps=11, "
         "total_steps=10"),
        ({"warmup_steps": -1}, "Received: warmup_steps=-1"),
        ({"total_steps": 0}, "`total_steps` must be an int >= 1. "
         "Received: total_steps=0"),
        ({"warmup_steps": 2.5}, "Received: warmup_steps=2.5"),
        ({"peak_learning_rate": 0.0}, "Received: peak_learning_rate=0.0"),
        ({"end_learning_rate": -1e-6}, "Received: end_learning_rate=-1e-06"),
        ({"end_learning_rate": 1.0},
         "must not exceed `peak_learning_rate` (the schedule decays). "
         "Received: end_learning_rate=1.0, peak_learning_rate=0.001"),
    ],
)
def test_bad_arguments(kwargs, match):
    arguments = {"peak_learning_rate": 1e-3, "warmup_steps": 1,
                 "total_steps": 10, **kwargs}
    with pytest.raises(ValueError, match=re.escape(match)):
        LinearWarmupDecay(**arguments)
