import numpy as np
import pytest
from conftest import shared_path

from kerasft.data.stsb import load_stsb

GLUE_HEADER = (
    "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1"
    "\tsentence2"
)


def write_stsb(folder, test_rows, original_rows):
    """A tiny STS-B folder: GLUE train/dev/test plus the original test."""
    (folder / "original").mkdir(parents=True)
    scored = (
        GLUE_HEADER + "\tscore\n"
        '0\tg\tf\t2012\t0001\tnone\tnone\tA "quoted\tB.\t3.8\n'
    )
    (folder / "train.tsv").write_text(scored)
    (folder / "dev.tsv").write_text(scored)
    (folder / "test.tsv").write_text(GLUE_HEADER + "\n" + "".join(
        f"{i}\tg\tf\t2016\t{i:04}\tnone\tnone\t{a}\t{b}\n"
        for i, (a, b) in enumerate(test_rows)
    ))
    (folder / "original" / "sts-test.tsv").write_text("".join(
        f"g\tf\t2016\t{i:04}\t{score}\t{a}\t{b}{extra}\n"
        for i, (score, a, b, extra) in enumerate(original_rows)
    ))
    return folder


def test_reads_unbalanced_quotes_and_original_test_scores(tmp_path):
    folder = write_stsb(
        tmp_path / "stsb",
        [("A cat sits.", "A cat is sitting."), ("Hi.", "Bye.")],
        # A trailing space GLUE dropped; two source fields on one row.
        [("4.2", "A cat sits. ", "A cat is sitting.", ""),
         ("0", "Hi.", "Bye.", "\tsrc1\tsrc2")],
    )
    first, second, scores = load_stsb("train", folder)
    assert (first, second) == (['A "quoted'], ["B."])
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, [3.8])
    first, second, scores = load_stsb("test", folder)
    assert first == ["A cat sits.", "Hi."]  # the GLUE sentences
    assert second == ["A cat is sitting.", "Bye."]
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, [4.2, 0.0])


def test_test_files_out_of_step_are_an_error(tmp_path):
    folder = write_stsb(
        tmp_path / "a",
        [("A cat sits.", "A cat is sitting."), ("Hi.", "Bye.")],
        [("0", "Hi.", "Bye.", ""), ("4.2", "A cat sits.", "A cat...", "")],
    )
    with pytest.raises(
        ValueError,
        match=r"test.tsv' line 2 and '.*sts-test.tsv' line 1 hold different "
        r"sentence pairs",
    ):
        load_stsb("test", folder)
    shorter = write_stsb(
        tmp_path / "b", [("A.", "B."), ("C.", "D.")], [("1", "A.", "B.", "")]
    )
    with pytest.raises(
        ValueError, match=r"sts-test.tsv' holds 1 scored pairs but .* 2"
    ):
        load_stsb("test", shorter)
    bad_score = write_stsb(tmp_path / "c", [("A.", "B.")],
                           [("high", "A.", "B.", "")])
    with pytest.raises(
        ValueError,
        match=r"sts-test.tsv' line 1, column 'score': 'high' is not a number",
    ):
        load_stsb("test", bad_score)
    with pytest.raises(ValueError, match="Received: split='dev'"):
        load_stsb("dev", bad_score)


@pytest.mark.shared
def test_counts_and_first_and_last_pairs():
    folder = shared_path("data", "stsb")
    # The first and last row of each file, read by hand; the score sums
    # from awk over the score column.
    expected = {
        "train": (5_749, 15_528.043, [
            ("A plane is taking off.", "An air plane is taking off.", 5.0),
            ("Putin spokesman: Doping charges appear unfounded",
             "The Latest on Severe Weather: 1 Dead in Texas After Tornado",
             0.0),
        ]),
        "validation": (1_500, 3_545.861, [
            ("A man with a hard hat is dancing.",
             "A man wearing a hard hat is dancing.", 5.0),
            ("New video shows US police officers beating mentally-ill man",
             "New York police officer critically wounded in hatchet attack",
             0.0),
        ]),
        "test": (1_379, 3_596.317, [
            ("A girl is styling her hair.", "A girl is brushing her hair.",
             2.5),
            ("South Korea declares end to MERS outbreak",
             "North Korea Delegation Meets With South Korean Officials",
             0.0),
        ]),
    }
    for split, (count, total, ends) in expected.items():
        first, second, scores = load_stsb(split, folder)
        assert len(first) == len(second) == len(scores) == count
        assert scores.dtype == np.float32
        assert 0.0 <= scores.min() and scores.max() <= 5.0
        assert scores.astype(np.float64).sum() == pytest.approx(total,
                                                               abs=1e-3)
        assert [
            (first[i], second[i], float(scores[i])) for i in (0, -1)
        ] == ends
    # Unbalanced quotes stay text (train.tsv line 2003, 2105).
    first, second, scores = load_stsb("train", folder)
    assert (first[2001], second[2001]) == (
        '"Then the captain was gone.', "Then the captain came back."
    )
    assert second[2103] == "You're such a bad person!\""
    np.testing.assert_allclose(scores[[2001, 2103]], [0.8, 1.8], rtol=1e-6)
    # The second test pair, scored 3.6 in original/sts-test.tsv.
    first, _, scores = load_stsb("test", folder)
    assert first[1] == "A group of men play soccer on the beach."
    assert scores[1] == np.float32(3.6)
