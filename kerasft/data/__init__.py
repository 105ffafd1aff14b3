"""Data for kerasft: loaders, splits, preprocessing, augmentation, pipeline.

Loaders return unbatched `tf.data.Dataset`s of `(features, label)` (or NumPy
arrays, for the `*_arrays` variants); `make_dataset` batches them. Text
files and the text sets give texts with class ids, multi-hot targets or
values (`task`); tagged sentences (CoNLL files, WNUT-17) become windows of
word pieces for token classification (`make_token_dataset`); word ids for
the from-scratch baselines come from `word_id_arrays`.
"""

from kerasft.data.arrays import check_arrays, dataset_from_arrays
from kerasft.data.augmentation import image_augmentation
from kerasft.data.conll import TaggedSentences, read_conll
from kerasft.data.digits import load_digits, load_digits_arrays
from kerasft.data.goemotions import load_goemotions
from kerasft.data.idx import read_idx
from kerasft.data.image_folder import load_image_folder
from kerasft.data.label_map import LabelMap
from kerasft.data.mnist import load_mnist, load_mnist_arrays
from kerasft.data.outlier_clipper import OutlierClipper
from kerasft.data.paths import shared_dir
from kerasft.data.pipeline import make_dataset
from kerasft.data.preprocessing import drop_missing_rows, scale
from kerasft.data.rt_polarity import load_rt_polarity, load_rt_polarity_arrays
from kerasft.data.splits import train_val_test_split
from kerasft.data.standardizer import Standardizer
from kerasft.data.stsb import load_stsb
from kerasft.data.tag_schemes import (
    SCHEMES,
    check_tags,
    convert_tags,
    entity_spans,
    tag_names_for,
    tag_names_from,
    tags_from_spans,
)
from kerasft.data.text_file import TextTable, load_text_file, read_text_file
from kerasft.data.text_file_splits import TextFileSplits, load_text_splits
from kerasft.data.text_pipeline import (
    load_text_folder,
    load_tfds_text,
    make_text_dataset,
    text_preprocessor,
)
from kerasft.data.tfds_loader import load_tfds
from kerasft.data.token_pipeline import (
    IGNORE_INDEX,
    TokenWindows,
    make_token_dataset,
    tokenize_words,
    words_with_offsets,
)
from kerasft.data.wnut17 import WNUT17_TAGS, load_wnut17
from kerasft.data.word_ids import word_id_arrays

__all__ = [
    "IGNORE_INDEX",
    "LabelMap",
    "OutlierClipper",
    "SCHEMES",
    "Standardizer",
    "TaggedSentences",
    "TextFileSplits",
    "TextTable",
    "TokenWindows",
    "WNUT17_TAGS",
    "check_arrays",
    "check_tags",
    "convert_tags",
    "dataset_from_arrays",
    "drop_missing_rows",
    "entity_spans",
    "image_augmentation",
    "load_digits",
    "load_digits_arrays",
    "load_goemotions",
    "load_image_folder",
    "load_mnist",
    "load_mnist_arrays",
    "load_rt_polarity",
    "load_rt_polarity_arrays",
    "load_stsb",
    "load_text_file",
    "load_text_folder",
    "load_text_splits",
    "load_tfds",
    "load_tfds_text",
    "load_wnut17",
    "make_dataset",
    "make_text_dataset",
    "make_token_dataset",
    "read_conll",
    "read_idx",
    "read_text_file",
    "scale",
    "shared_dir",
    "tag_names_for",
    "tag_names_from",
    "tags_from_spans",
    "text_preprocessor",
    "tokenize_words",
    "train_val_test_split",
    "word_id_arrays",
    "words_with_offsets",
]
