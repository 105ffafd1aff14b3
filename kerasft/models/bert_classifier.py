import keras
import keras_hub

from kerasft import presets
from kerasft.models.text_classifier import TextClassifier


@keras.saving.register_keras_serializable(package="kerasft")
class BertClassifier(TextClassifier):
    """A `TextClassifier` restricted to keras-hub's `BertBackbone`.

    The class kerasft had before `TextClassifier` took every encoder
    family; it behaves exactly as `TextClassifier` on a BERT backbone, and
    `.keras` files saved with it load as before. New code can use
    `kerasft.TextClassifier`, which takes BERT too.

    Args:
        backbone: a `keras_hub.models.BertBackbone`.
        num_classes, pooling, dropout, class_names: see `TextClassifier`.
        **kwargs: passed to `keras.Model` (`name`, `trainable`).

    Example:
    ```python
    model = kerasft.BertClassifier.from_preset(
        "../shared/models/minilm-l6-h384-uncased", num_classes=2
    )
    ```
    """

    def _check_backbone(self, backbone):
        if not isinstance(backbone, keras_hub.models.BertBackbone):
            raise TypeError(
                "`backbone` must be a keras_hub.models.BertBackbone (e.g. "
                "from `keras_hub.models.BertBackbone.from_preset(...)`); "
                "kerasft.TextClassifier takes the other families. "
                f"Received: backbone={backbone!r} of type "
                f"{type(backbone).__name__}"
            )

    @classmethod
    def _check_preset(cls, preset):
        presets.check_family(
            preset, "bert",
            "BertClassifier needs a preset of keras_hub.models.BertBackbone;"
            f" kerasft.TextClassifier takes every family ({presets.SUPPORTED})",
        )


# The preset helpers that lived here before kerasft.presets, kept working.
def check_bert_preset(preset):
    """Returns `preset` as a str, or raises unless it is a BERT preset; see
    `kerasft.presets.check_family`."""
    return presets.check_family(
        preset, "bert", "kerasft.BertClassifier needs a BERT preset")


preset_config = presets.preset_config
