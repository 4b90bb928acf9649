import numpy as np
import pytest

from genderface.errors import GenderfaceError
from genderface.evaluation.groups import by_group, read_attributes
from genderface.evaluation.scoring import Evaluation

CLASSES = ["man", "woman"]


@pytest.mark.parametrize(
    ("header", "rows"),
    [
        ("name,age", ["man/a.jpg,3-9"]),  # no file column
        ("file", ["man/a.jpg"]),  # no attribute
        ("file,label", ["man/a.jpg,man"]),  # clashes with the predictions' columns
        ("file,../age", ["man/a.jpg,3-9"]),  # names a plot file outside its folder
    ],
)
def test_a_bad_attributes_header_is_one_clear_error(tmp_path, header, rows):
    path = tmp_path / "attributes.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(GenderfaceError, match=r"attributes.csv: needs a `file` column"):
        read_attributes(path)


def test_a_file_listed_twice_is_refused(tmp_path):
    path = tmp_path / "attributes.csv"
    path.write_text("file,age\nman/a.jpg,3-9\nman/a.jpg,10-19\n")
    with pytest.raises(GenderfaceError, match=r"man/a\.jpg is listed twice"):
        read_attributes(path)


def test_groups_join_on_the_file_and_unlisted_images_form_their_own_group(tmp_path):
    """woman/1.jpg is not listed (group ?); woman/0.jpg has no site (left out of it, counted)."""
    path = tmp_path / "attributes.csv"
    path.write_text("file,age,site\nman/0.jpg,0-2,a\nman/1.jpg,0-2,b\nwoman/0.jpg,10-19,\n")
    files = ["man/0.jpg", "man/1.jpg", "woman/0.jpg", "woman/1.jpg"]
    y_true, y_prob = np.array([0, 0, 1, 1]), np.array([0.2, 0.7, 0.9, 0.8])
    evaluation = Evaluation({}, CLASSES, 0.5, files, files, y_true, y_prob, bins=10)
    groups = by_group(evaluation, read_attributes(path), min_group=1)
    table = groups.table
    age = table[table["attribute"] == "age"].set_index("group")
    assert age["n"].to_dict() == {"0-2": 2, "10-19": 1, "?": 1}
    assert age.loc["0-2", "accuracy"] == 0.5  # man/1.jpg wrong
    assert age.loc["0-2", "man_error"] == 0.5
    assert np.isnan(age.loc["0-2", "woman_error"])  # no woman in the group
    assert table[table["attribute"] == "site"]["group"].tolist() == ["?", "a", "b"]
    assert groups.left_out == {"age": 0, "site": 1}
