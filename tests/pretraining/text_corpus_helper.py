"""A tiny synthetic corpus for the masked-LM tests.

pytest puts each test file's folder on sys.path:
`from text_corpus_helper import write_corpus`.
"""

import numpy as np

SUBJECTS = ["the movie", "the film", "this story", "a plot", "the cast"]
VERBS = ["was", "is", "seems", "felt"]
ADJECTIVES = ["good", "bad", "great", "dull", "funny", "slow", "long"]


def corpus_lines(num_lines=200, seed=0):
    """Lines such as 'The movie was good .' (upper case first letter)."""
    rng = np.random.default_rng(seed)
    return [
        f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} "
        f"{rng.choice(ADJECTIVES)} ."
        for _ in range(num_lines)
    ]


def write_corpus(folder, num_lines=200, seed=0, name="corpus.txt"):
    """Writes `num_lines` lines to `folder/name`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(corpus_lines(num_lines, seed)) + "\n")
    return folder
