"""`check_keras_file`: a bad `.keras` path is named for what it is.

Keras reports a truncated or foreign file as "File not found"; the check
says whether nothing is there, a folder is, or a file that is no `.keras`
archive (with its size). Plain zip files stand in for saved models: the
check reads the archive's directory and `config.json` only.
"""

import json
import zipfile

import pytest

from kerasft.checks import check_keras_file


def write_archive(path, config=None, extra=("model.weights.h5",)):
    """A zip laid out like a `.keras` file (config.json + members)."""
    with zipfile.ZipFile(path, "w") as archive:
        if config is not None:
            archive.writestr("config.json", config)
        for name in extra:
            archive.writestr(name, b"\0" * 256)
    return path


@pytest.fixture
def archive(tmp_path):
    return write_archive(tmp_path / "model.keras",
                         json.dumps({"class_name": "Sequential"}))


def test_a_valid_archive_comes_back_as_a_path(archive):
    path = check_keras_file("model_path", str(archive))
    assert path == archive


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.keras"
    with pytest.raises(FileNotFoundError) as info:
        check_keras_file("model_path", missing)
    assert str(info.value) == (
        f"No saved model at that path. Received: model_path='{missing}' "
        "(no such file)"
    )


def test_folder_is_refused(tmp_path):
    folder = tmp_path / "model.keras"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"that path is a folder\. "
                       r"Received: model_path='.*model\.keras'"):
        check_keras_file("model_path", folder)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_archive_names_its_path_and_size(archive, cut):
    data = archive.read_bytes()
    truncated = archive.with_name("truncated.keras")
    truncated.write_bytes(data[: int(len(data) * cut)])
    size = truncated.stat().st_size
    with pytest.raises(ValueError) as info:
        check_keras_file("model", truncated)
    message = str(info.value)
    assert "exists but is not a valid .keras archive" in message
    assert "truncated download" in message
    assert message.endswith(f"Received: model='{truncated}' ({size:,} bytes)")


def test_text_file_renamed_keras_is_refused(tmp_path):
    text = tmp_path / "notes.keras"
    text.write_text("not a model\n")
    with pytest.raises(ValueError, match=r"\(not a zip file, or one cut "
                       r"short\).*notes\.keras' \(12 bytes\)$"):
        check_keras_file("model", text)


def test_empty_file_says_it_is_empty(tmp_path):
    empty = tmp_path / "empty.keras"
    empty.touch()
    with pytest.raises(ValueError, match=r"\(an empty file\).*\(0 bytes\)$"):
        check_keras_file("model", empty)


def test_zip_without_config_json_is_refused(tmp_path):
    other = write_archive(tmp_path / "other.keras", config=None)
    with pytest.raises(ValueError, match="a zip file without config.json"):
        check_keras_file("model", other)


def test_config_json_that_is_not_json_is_refused(tmp_path):
    broken = write_archive(tmp_path / "broken.keras", config="{not json")
    with pytest.raises(ValueError, match="its config.json is not JSON"):
        check_keras_file("model", broken)


@pytest.mark.parametrize("path", [None, 3, ""])
def test_a_path_that_is_no_path_is_a_type_error(path):
    with pytest.raises(TypeError, match=rf"Received: model={path!r}"):
        check_keras_file("model", path)
