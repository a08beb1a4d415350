"""Artifact previews: the kind a file gets, bounded reads, text sniffing, tables, MLmodel cards, raw headers."""

from __future__ import annotations

import io

import pytest

from registry.mlmodel import parse_mlmodel
from studio import artifact_previews as previews


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("MLmodel", "mlmodel"),
        ("model/MLmodel", "mlmodel"),
        ("metrics.json", "json"),
        ("conda.yaml", "yaml"),
        ("config.YML", "yaml"),
        ("data/train.csv", "table"),
        ("data.tsv", "table"),
        ("plot.PNG", "image"),
        ("diagram.svg", "image"),
        ("report.pdf", "pdf"),
        ("report.html", "html"),
        ("requirements.txt", "text"),
        ("train.log", "text"),
        ("model.pkl", "unknown"),
        ("README", "unknown"),
    ],
)
def test_it_picks_the_preview_kind_from_the_name(name, kind):
    assert previews.preview_kind(name) == kind


def test_it_lets_the_browser_render_images_pdfs_and_html_only_under_their_limits():
    assert previews.fits_inline("image", 1024)
    assert not previews.fits_inline("image", previews.INLINE_LIMITS["image"] + 1)
    assert not previews.fits_inline("html", previews.INLINE_LIMITS["html"] + 1)
    assert not previews.fits_inline("text", 10)  # text is read by the server, never handed over whole


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_it_reads_only_a_prefix_of_a_large_file():
    handle = CountingReader(b"x" * (5 * 1024 * 1024))
    prefix = previews.read_prefix(handle, 1000)
    assert prefix.data == b"x" * 1000
    assert prefix.truncated
    assert handle.bytes_read == 1001  # one byte past the limit proves there is more, no further


def test_a_file_that_fits_is_read_whole_and_not_truncated():
    prefix = previews.read_prefix(io.BytesIO(b"hello"), 1000)
    assert (prefix.data, prefix.truncated) == (b"hello", False)
    assert not previews.read_prefix(io.BytesIO(b"x" * 1000), 1000).truncated


def test_a_nul_byte_makes_a_file_binary():
    assert previews.decode_text(previews.Prefix(b"\x80\x04\x95\x00pickle", False)) is None


def test_invalid_utf8_is_binary_unless_the_name_says_text():
    prefix = previews.Prefix(b"caf\xe9 au lait", False)
    assert previews.decode_text(prefix) is None
    assert previews.decode_text(prefix, textual=True) == "caf\ufffd au lait"


def test_a_character_cut_by_the_end_of_the_prefix_is_left_out():
    data = "héllo wörld".encode()
    cut = data[: data.index("ö".encode()) + 1]  # half of the two bytes of ö
    assert previews.decode_text(previews.Prefix(cut, True)) == "héllo w"


def test_a_utf8_bom_is_dropped():
    assert previews.decode_text(previews.Prefix(b"\xef\xbb\xbfname,value", False)) == "name,value"


def test_json_is_indented_and_invalid_json_is_not():
    assert (
        previews.pretty_json('{"a": [1, 2], "b": "é"}') == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "é"\n}'
    )
    assert previews.pretty_json("{not json") is None
    assert previews.pretty_json("[" * 100_000 + "]" * 100_000) is None  # deeper than the parser allows


def test_yaml_is_reemitted_in_block_style_and_keeps_its_order():
    assert previews.pretty_yaml("b: {x: 1, y: [1, 2]}\na: 2\n") == "b:\n  x: 1\n  y:\n  - 1\n  - 2\na: 2"


def test_yaml_that_builds_objects_or_is_not_a_document_is_not_prettified():
    assert previews.pretty_yaml("!!python/object/apply:os.system ['echo hi']") is None
    assert previews.pretty_yaml("just a line of text") is None
    assert previews.pretty_yaml("a: [unclosed") is None


def test_a_yaml_alias_bomb_is_refused_instead_of_expanded():
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
    assert previews.pretty_yaml(bomb) is None


def test_a_csv_becomes_a_header_and_rows_padded_to_its_width():
    table = previews.parse_table('name,score,note\nann,0.9,"a, quoted"\nbob,0.7\n')
    assert table.header == ["name", "score", "note"]
    assert table.rows == [["ann", "0.9", "a, quoted"], ["bob", "0.7", ""]]
    assert not table.more_rows and not table.more_columns


def test_a_tsv_uses_tabs():
    table = previews.parse_table("a\tb\n1\t2\n", delimiter=previews.table_delimiter("x.tsv"))
    assert table.header == ["a", "b"] and table.rows == [["1", "2"]]


def test_a_long_csv_shows_its_first_rows_only():
    text = "n\n" + "".join(f"{i}\n" for i in range(2000))
    table = previews.parse_table(text, max_rows=500)
    assert len(table.rows) == 500
    assert table.rows[-1] == ["499"]
    assert table.more_rows


def test_the_row_a_truncated_prefix_cut_through_is_dropped():
    table = previews.parse_table("a,b\n1,2\n3,4\n5,6", truncated=True)  # "5,6" may be "5,67..." really
    assert table.rows == [["1", "2"], ["3", "4"]]
    assert table.more_rows


def test_wide_tables_and_long_cells_are_cut():
    header = ",".join(f"c{i}" for i in range(150))
    table = previews.parse_table(header + "\n" + "x" * 2000 + "\n")
    assert len(table.header) == previews.TABLE_COLUMNS
    assert table.more_columns
    assert table.rows[0][0] == "x" * previews.CELL_CHARS + "…"


def test_text_that_is_not_a_table_gives_none():
    assert previews.parse_table("") is None
    assert previews.parse_table('a,b\n"x' + "y" * 200_000 + '"\n') is None  # a field past csv's limit


MLMODEL = """\
flavors:
  python_function:
    env: {conda: conda.yaml, virtualenv: python_env.yaml}
    loader_module: mlflow.sklearn
    python_version: 3.11.7
  sklearn: {pickled_model: model.pkl, sklearn_version: 1.5.0}
mlflow_version: 3.17.2
model_id: m-abc
saved_input_example_info: {artifact_path: input_example.json, type: ndarray}
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}, {"type": "string", "name": "tag", "required": false}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: '[{"name": "temperature", "type": "float", "default": 0.5, "shape": null}]'
"""


def test_an_mlmodel_becomes_a_card_with_flavors_signature_and_environment():
    card = previews.model_card(
        parse_mlmodel(MLMODEL.encode()),
        environment=[
            ("conda.yaml", "name: env\n"),
            ("python_env.yaml", ""),
            ("requirements.txt", "mlflow\n"),
        ],
        input_example='{"inputs": [[1.0]]}',
        load_uri="models:/m-abc",
    )
    assert [name for name, _ in card.flavors] == ["python_function", "sklearn"]
    assert ("env", "conda: conda.yaml, virtualenv: python_env.yaml") in card.flavors[0][1]
    assert card.inputs == [
        previews.SchemaRow("x", "double", True),
        previews.SchemaRow("tag", "string", False),
    ]
    assert card.outputs == [previews.SchemaRow("", "tensor int64 (-1)", True)]
    assert card.params == [previews.SchemaRow("temperature", "float", True, "0.5")]
    assert card.environment == [("conda.yaml", "name: env\n"), ("requirements.txt", "mlflow\n")]
    assert card.input_example == '{\n  "inputs": [\n    [\n      1.0\n    ]\n  ]\n}'
    assert card.has_signature
    assert (card.mlflow_version, card.model_id) == ("3.17.2", "m-abc")
    assert card.load_literal == '"models:/m-abc"'


def test_nested_column_types_read_like_types():
    spec = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "m": {"type": "map", "values": {"type": "long"}},
        },
    }
    assert previews.type_text(spec) == "object{tags: array<string>, m: map<string, long>}"


def test_the_card_reads_only_plain_names_next_to_the_mlmodel():
    mlmodel = parse_mlmodel(
        b"flavors:\n  python_function:\n    env: {conda: ../../secret.yaml, virtualenv: python_env.yaml}\n"
        b"saved_input_example_info: {artifact_path: /etc/passwd}\n"
    )
    assert previews.side_files(mlmodel) == ["python_env.yaml", "requirements.txt"]


def test_a_model_without_signature_says_so():
    card = previews.model_card(parse_mlmodel(b"flavors: {}\n"))
    assert not card.has_signature
    assert card.inputs is None and card.flavors == []


@pytest.mark.parametrize(
    ("name", "content_type", "attachment"),
    [
        ("plot.png", "image/png", False),
        ("diagram.svg", "image/svg+xml", False),
        ("report.pdf", "application/pdf", False),
        ("report.html", "text/plain; charset=utf-8", False),
        ("script.js", "text/plain; charset=utf-8", False),
        ("metrics.json", "text/plain; charset=utf-8", False),
        ("model.pkl", "application/octet-stream", True),
    ],
)
def test_raw_files_are_served_as_types_the_browser_does_not_execute(name, content_type, attachment):
    served_as, as_attachment, policy = previews.raw_headers(name, download=False)
    assert (served_as, as_attachment) == (content_type, attachment)
    assert "default-src 'none'" in policy


def test_downloads_are_octet_streams_in_a_sandbox():
    assert previews.raw_headers("report.html", download=True) == (
        "application/octet-stream",
        True,
        previews.SANDBOX_CSP,
    )
    assert "sandbox" in previews.SANDBOX_CSP.split("; ")


def test_every_policy_blocks_scripts_and_remote_content():
    for policy in (previews.SANDBOX_CSP, previews.PDF_CSP):
        directives = dict(part.split(" ", 1) if " " in part else (part, "") for part in policy.split("; "))
        assert directives["default-src"] == "'none'"
        assert directives["img-src"] == "data:"
        assert "script-src" not in directives


def test_a_pandas_input_example_becomes_a_table():
    table = previews.example_table('{"columns": ["a", "b"], "data": [[5.1, "x"], [4.9, null]]}')
    assert table.header == ["a", "b"]
    assert table.rows == [["5.1", "x"], ["4.9", "null"]]
    assert previews.example_table('{"dataframe_split": {"columns": ["a"], "data": [[1]]}}').rows == [["1"]]
    assert previews.example_table("[[1, 2]]") is None
    assert previews.example_table('{"inputs": [1]}') is None
    assert previews.example_table("not json") is None
