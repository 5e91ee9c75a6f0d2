"""Table: markdown display, column and row access, plots."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lessons_lib.table import Table, markdown_table  # noqa: E402


# ---------------------------------------------------------------- tables


def test_markdown_table_formats_numbers_none_booleans_and_escapes_pipes():
    text = markdown_table([{"a": 0.000123456, "b": None, "c": True, "d": "x|y", "e": 3}],
                            headers={"a": "|a|"})
    header, rule, row = text.splitlines()
    assert header == "| \\|a\\| | b | c | d | e |"
    assert rule == "|---|---|---|---|---|"
    assert row == "| 1.23e-04 | — | yes | x\\|y | 3 |"
    with pytest.raises(ValueError, match="at least one row"):
        markdown_table([])


def test_table_columns_rows_display_and_plot():
    table = Table([{"lr": 0.1, "steps": 5, "label": "a"}, {"lr": 0.2, "steps": None, "label": "b"}],
                    {"steps": "steps to tol"}, title="demo")
    np.testing.assert_array_equal(table.column("lr"), [0.1, 0.2])
    assert np.isnan(table.column("steps")[1])
    assert list(table.column("label")) == ["a", "b"]
    assert table.row(lr=0.1 + 1e-12)["steps"] == 5  # floats match to round-off
    assert table._repr_markdown_().startswith("**demo**") and "steps to tol" in str(table)
    assert isinstance(table.plot("lr", "steps"), Figure)
    narrow = table.select("label", "lr")
    assert list(narrow[0]) == ["label", "lr"] and narrow.title == "demo" and len(narrow) == 2
    with pytest.raises(ValueError, match="unknown: \\['x'\\]"):
        table.select("lr", "x")
    with pytest.raises(ValueError, match="no column 'nope'"):
        table.column("nope")
    with pytest.raises(ValueError, match="no row"):
        table.row(lr=0.3)
