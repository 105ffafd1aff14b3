"""What trains: freeze/unfreeze layers by selector, and parameter reports.

Freezing works on Keras' `trainable` flag. Setting it on a layer sets it on
all its sublayers and their weights: a frozen parent freezes its children. A
frozen `BatchNormalization` runs in inference mode (moving statistics) even
when the model is called with `training=True`.

Setting `trainable = True` back on one child of a frozen parent is not enough:
Keras then trains the child's weights (they are in `model.trainable_weights`)
while `parent.trainable` stays False and `parent.trainable_weights` empty.
`unfreeze()` keeps the flags consistent: it makes the ancestors trainable and
leaves every other layer under them as it was.

Layers are addressed by their path from the model, names joined by `/`, e.g.
`"feature_extractor/conv_0"` or, in a `TextClassifier` on BERT,
`"bert_backbone/transformer_layer_3"` (the backbone layer's own name; Keras
numbers it `bert_backbone_1`, ... when several exist, so prefer the layer
name `"transformer_layer_3"` or a glob). A selector is one of, or a list of:

- a path or a layer name: `"head"`, `"feature_extractor/conv_0"`, `"conv_0"`
  (a name matches that layer wherever it is nested);
- a glob pattern matched (fnmatch) against paths and names:
  `"transformer_layer_*"`, `"feature_extractor/*"`;
- an int: an index into the model's top-level layers (negative from the end).

For encoder models (any keras-hub encoder backbone: BERT, RoBERTa,
DistilBERT, ALBERT, DeBERTaV3, XLM-RoBERTa, ELECTRA; alone or inside a model
such as `TextClassifier`) there are shortcuts: `freeze_backbone`,
`freeze_embeddings`, `freeze_transformer_layers(model, indices, keep_top)`
and their `unfreeze_*` twins, and `block_report` (embeddings, each
transformer layer, pooler, head) with `compare_block_reports`; one block
map (`encoder_blocks`) serves every family.

The package: `selection` (walk the layer tree, select, freeze, unfreeze),
`blocks` (the per-family block map and block-level freezing), `reports`
(parameter and block reports, one comparison).

After changing what trains, a compiled train step must be rebuilt (the
kerasft Trainer notices; for `model.fit`, compile again).

Example:
```python
import kerasft
from kerasft import freezing

model = kerasft.models.ConvNetwork(filters=(8, 16), num_classes=5)
model.build((None, 8, 8, 1))
before = freezing.parameter_report(model)
freezing.freeze(model, "feature_extractor")
freezing.unfreeze(model, "feature_extractor/conv_1")  # fine-tune the top conv
print(freezing.compare_parameter_reports(
    {"before": before, "after": freezing.parameter_report(model)}
))
```
"""

from kerasft.freezing.blocks import (
    Block,
    bert_blocks,
    encoder_blocks,
    find_backbone,
    freeze_backbone,
    freeze_embeddings,
    freeze_transformer_layers,
    transformer_blocks,
    transformer_layer_paths,
    unfreeze_backbone,
    unfreeze_embeddings,
    unfreeze_transformer_layers,
)
from kerasft.freezing.reports import (
    BlockRow,
    ParameterRow,
    block_report,
    compare_block_reports,
    compare_parameter_reports,
    compare_reports,
    format_block_report,
    format_parameter_report,
    parameter_report,
)
from kerasft.freezing.selection import (
    freeze,
    iter_layers,
    select_layers,
    unfreeze,
)

__all__ = [
    "Block",
    "BlockRow",
    "ParameterRow",
    "bert_blocks",
    "block_report",
    "compare_block_reports",
    "compare_parameter_reports",
    "compare_reports",
    "encoder_blocks",
    "find_backbone",
    "format_block_report",
    "format_parameter_report",
    "freeze",
    "freeze_backbone",
    "freeze_embeddings",
    "freeze_transformer_layers",
    "iter_layers",
    "parameter_report",
    "select_layers",
    "transformer_blocks",
    "transformer_layer_paths",
    "unfreeze",
    "unfreeze_backbone",
    "unfreeze_embeddings",
    "unfreeze_transformer_layers",
]
