"""dashboard/ui.py's helpers that show what a person typed as text: Markdown through md(), chart
labels through chart_text(), CSV cells through csv_bytes(). The screens that use them are run with
hostile values in tests/pages/test_hostile_text.py."""

import csv
import io
import re
import string

import pandas as pd

from dashboard.ui import chart_text, csv_bytes, md
from tests.pages.helpers import RICH, RICH_FILE

# What would be Markdown, a directive, LaTeX or HTML if a backslash did not stand before it.
UNESCAPED = re.compile(r"(?<!\\)(!\[|\]\(|\*\*|:red\[|\$|<b>|<a |\n)")


def test_md_escapes_every_ascii_punctuation_character_and_keeps_to_one_line():
    for character in string.punctuation:
        assert md(f"a{character}b").replace(":small[]", "") == f"a\\{character}b"
    assert md("line one\nline two\r\n\t# three\x00") == "line one line two   \\# three "
    assert UNESCAPED.search(md(f"{RICH} {RICH_FILE}")) is None
    assert md("plain words 42") == "plain words 42"


def test_md_keeps_addresses_and_short_codes_apart_so_nothing_rewrites_them():
    # Streamlit turns these into links, icons, emoji and arrows after the escapes are read: an
    # empty directive keeps the two characters in separate pieces of text.
    assert md("lead@example.com") == "lead:small[]\\@example\\.com"
    assert md("http://x.org") == "http:small[]\\:\\/\\/x\\.org"
    assert md("WWW.x.org") == "WWW:small[]\\.x\\.org"
    assert md(":material_home:") == ":small[]\\:material\\_home:small[]\\:"
    assert md("a -> b") == "a \\-:small[]\\> b"


def test_chart_text_escapes_the_html_plotly_reads_and_nothing_else():
    assert (
        chart_text('<a href="http://evil.example">A&B</a>')
        == '&lt;a href="http://evil.example"&gt;A&amp;B&lt;/a&gt;'
    )
    assert chart_text("Data Platform") == "Data Platform"


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised_and_numbers_stay_numbers():
    frame = pd.DataFrame(
        {
            "name": [
                '=HYPERLINK("http://evil.example","x")',
                "+1+1",
                "-2+3",
                "@SUM(A1)",
                "\t=1",
                "\r=1",
                "ok",
                None,
            ],
            "count": [-1, 2, 3, 4, 5, 6, 7, 8],
            "typed": pd.Series(["=1", "-x", "fine", None, "a", "b", "c", "d"], dtype="string"),
        }
    )
    rows = list(csv.DictReader(io.StringIO(csv_bytes(frame).decode(), newline="")))
    assert [r["name"] for r in rows] == [
        "'" + frame.name[0], "'+1+1", "'-2+3", "'@SUM(A1)", "'\t=1", "'\r=1", "ok", "",
    ]  # fmt: skip
    assert [r["count"] for r in rows] == ["-1", "2", "3", "4", "5", "6", "7", "8"]
    assert [r["typed"] for r in rows][:3] == ["'=1", "'-x", "fine"]
    assert frame.name[0].startswith("="), "the shown frame is left as it is"
