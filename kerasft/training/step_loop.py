"""One step loop for `fit` and `evaluate`: N steps per `tf.function` call.

`compile_steps` wraps a per-replica step in a graph loop of up to
`num_steps` steps that pulls its batches from the iterator inside the
graph and stops early at the first unsound step (a bad label, a
non-finite loss or gradient) or when the iterator runs dry; metrics are
read once per call. `calls` is the host side: it runs such a function
until the epoch's steps are done, one host sync per call.
"""

import dataclasses

import tensorflow as tf


def sound_status():
    """The status of a sound step: the loop's starting value.

    `ok`: the step was applied (agreed by all replicas); `labels_ok`: its
    labels were valid, `bad_label` the first invalid one; `loss`: the
    batch's own loss; `labels_finite`: no NaN/inf among its labels;
    `gradient_index`: the first non-finite gradient's variable, or -1.
    """
    return {
        "ok": tf.constant(True),
        "labels_ok": tf.constant(True),
        "bad_label": tf.constant(0.0),
        "loss": tf.constant(0.0),
        "labels_finite": tf.constant(True),
        "gradient_index": tf.constant(-1, "int32"),
    }


def compile_steps(step_function, strategy, metrics, jit_compile=False,
                  run_eagerly=False, on_trace=None):
    """Returns `function(iterator, num_steps) -> {"steps", "status", "logs"}`.

    Args:
        step_function: `data -> status dict` (see `sound_status`), run on
            each replica.
        strategy: the `tf.distribute.Strategy`.
        metrics: the metrics whose results go in `logs`.
        jit_compile: bool. Compile the step with XLA.
        run_eagerly: bool. No `tf.function` at all (debugging).
        on_trace: callable or None, called each time the loop is traced.
    """
    if jit_compile and not run_eagerly:
        step_function = tf.function(step_function, jit_compile=True,
                                    reduce_retracing=True)

    def one_step(data):
        statuses = strategy.experimental_local_results(
            strategy.run(step_function, args=(data,)))
        return _first_problem(statuses)

    def multi_step(iterator, num_steps):
        if on_trace is not None:
            on_trace()  # runs only while tracing
        steps = tf.constant(0)
        status = sound_status()
        for _ in tf.range(num_steps):
            optional = iterator.get_next_as_optional()
            if not optional.has_value():
                break
            status = one_step(optional.get_value())
            steps += 1
            if not status["ok"]:
                break
        # Read in the cross-replica context: on-read metric variables are
        # summed over replicas here.
        logs = {metric.name: metric.result() for metric in metrics}
        return {"steps": steps, "status": status, "logs": logs}

    if run_eagerly:
        return multi_step
    return tf.function(multi_step, reduce_retracing=True)


def _first_problem(statuses):
    """The status of the first local replica with a problem, else replica
    0's. `ok` is agreed by all replicas already."""
    if len(statuses) == 1:
        return dict(statuses[0])
    problem = tf.stack([
        tf.logical_not(s["labels_ok"]) | ~tf.math.is_finite(s["loss"])
        | (s["gradient_index"] >= 0)
        for s in statuses
    ])
    index = tf.argmax(tf.cast(problem, "int32"), output_type="int32")
    return {key: tf.gather(tf.stack([s[key] for s in statuses]), index)
            for key in statuses[0]}


@dataclasses.dataclass
class StepStatus:
    """A step's status on the host (see `sound_status`)."""

    ok: bool
    labels_ok: bool
    bad_label: float
    loss: float
    labels_finite: bool
    gradient_index: int

    @classmethod
    def from_outputs(cls, status):
        return cls(ok=bool(status["ok"]),
                   labels_ok=bool(status["labels_ok"]),
                   bad_label=float(status["bad_label"]),
                   loss=float(status["loss"]),
                   labels_finite=bool(status["labels_finite"]),
                   gradient_index=int(status["gradient_index"]))


@dataclasses.dataclass
class Call:
    """One call of a compiled step function, seen from the host."""

    step: int  # steps done in the epoch after this call
    steps_run: int  # steps this call ran (the last one may be unsound)
    requested: int  # steps it was asked for
    outputs: dict  # "logs" (tensors) and "status"

    @property
    def status(self):
        return StepStatus.from_outputs(self.outputs["status"])

    @property
    def ran_dry(self):
        """The iterator ended inside this call."""
        return self.steps_run < self.requested


def calls(function, iterator, steps, steps_per_execution, start=0,
          on_call_begin=None):
    """Runs `function` until `steps` steps are done; yields each `Call`.

    The caller decides what a call's outputs mean and may stop early
    (`break`); the loop also stops when the iterator runs dry.

    Args:
        function: from `compile_steps`.
        iterator: the (distributed) dataset iterator.
        steps: int or None. Steps in the epoch; None runs until the
            iterator ends.
        steps_per_execution: int. Steps per call, at most.
        start: int. Steps of the epoch already done (a resumed epoch).
        on_call_begin: callable(step) or None, e.g. a CallbackList's
            `on_train_batch_begin`.
    """
    step = start
    while steps is None or step < steps:
        requested = steps_per_execution
        if steps is not None:
            requested = min(requested, steps - step)
        if on_call_begin is not None:
            on_call_begin(step)
        outputs = function(iterator, tf.constant(requested))
        steps_run = int(outputs["steps"])  # the call's one host sync
        if steps_run == 0:
            return
        step += steps_run
        call = Call(step, steps_run, requested, outputs)
        yield call
        if call.ran_dry:
            return
