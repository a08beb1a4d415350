"""Files the artifact viewer previews, made here: notebooks (friendly and hostile), Parquet, WAV."""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import wave
import zlib


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (37, 99, 235)) -> bytes:
    """A small solid PNG, written by hand (no imaging library needed)."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def chart_png() -> bytes:
    """A loss curve drawn by matplotlib (a dependency of mlflow, so of the tests), for screenshots."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(5.2, 2.6), dpi=100)
    steps = list(range(50))
    axes.plot(steps, [1.6 * math.exp(-step / 12) + 0.12 for step in steps], label="train")
    axes.plot(steps, [1.6 * math.exp(-step / 14) + 0.2 for step in steps], label="validation")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    return buffer.getvalue()


def notebook(cells: list[dict], **metadata) -> bytes:
    document = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            **metadata,
        },
        "cells": cells,
    }
    return json.dumps(document, indent=1).encode()


def markdown(source: str, **extra) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source.splitlines(keepends=True), **extra}


def code(source: str, outputs: list[dict] = (), count: int | None = None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": count,
        "metadata": {},
        "source": source.splitlines(keepends=True),
        "outputs": list(outputs),
    }


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text.splitlines(keepends=True)}


def display(data: dict, count: int | None = None) -> dict:
    if count is None:
        return {"output_type": "display_data", "data": data, "metadata": {}}
    return {"output_type": "execute_result", "execution_count": count, "data": data, "metadata": {}}


def error(name: str, value: str, traceback: list[str]) -> dict:
    return {"output_type": "error", "ename": name, "evalue": value, "traceback": traceback}


DATAFRAME_HTML = """<div><table border="1" class="dataframe">
<thead><tr style="text-align: right;"><th></th><th>model</th><th>accuracy</th><th>f1</th></tr></thead>
<tbody>
<tr><th>0</th><td>logistic</td><td>0.912</td><td>0.897</td></tr>
<tr><th>1</th><td>forest</td><td>0.948</td><td>0.941</td></tr>
<tr><th>2</th><td>boosting</td><td>0.957</td><td>0.952</td></tr>
</tbody></table></div>"""


def training_notebook(image: bytes | None = None) -> bytes:
    """A notebook as a data scientist leaves it: prose, code, printed text, a table, a chart, an error."""
    chart = base64.b64encode(image or png()).decode()
    return notebook(
        [
            markdown(
                "# Training report\n\nWe compare three classifiers on the **iris** data set; "
                "see [the run](https://example.com/runs/1) for the logged metrics.\n\n"
                "| step | what |\n|---|---|\n| 1 | load and split |\n| 2 | fit and score |\n"
            ),
            code(
                "import pandas as pd\nfrom sklearn.datasets import load_iris\n\nX, y = load_iris(return_X_y=True)\nprint(X.shape)",
                [stream("(150, 4)\n")],
                1,
            ),
            code(
                "scores = pd.DataFrame(results)\nscores",
                [
                    display(
                        {
                            "text/html": DATAFRAME_HTML,
                            "text/plain": "      model  accuracy     f1\n0  logistic  0.912  0.897",
                        },
                        2,
                    )
                ],
                2,
            ),
            markdown("## Learning curve\n\nThe validation loss flattens after about `30` epochs."),
            code(
                "plot_losses(history)",
                [display({"image/png": chart, "text/plain": "<Figure size 520x260>"})],
                3,
            ),
            code(
                "scores.loc['svm']",
                [
                    error(
                        "KeyError",
                        "'svm'",
                        [
                            "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
                            "\x1b[0;31mKeyError\x1b[0m: 'svm'",
                        ],
                    )
                ],
                4,
            ),
        ],
        language_info={"name": "python", "version": "3.11.7"},
    )


def hostile_notebook() -> bytes:
    """Every way a notebook could try to run something in the reader's browser."""
    return notebook(
        [
            markdown(
                "# Hi\n\n<script>window.__pwned = 'markdown script'</script>\n\n"
                '<img src="x" onerror="window.__pwned = \'markdown onerror\'">\n\n'
                "[click me](javascript:window.__pwned='markdown link')\n\n"
                "![remote](https://tracker.example/pixel.png)\n"
            ),
            code(
                "display(HTML(...))",
                [
                    display(
                        {
                            "text/html": "<b>bold</b><script>parent.__pwned = 'html script'</script><img src=x onerror=\"parent.__pwned='html onerror'\">"
                        }
                    ),
                    display(
                        {
                            "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload=\"parent.__pwned='svg'\"><script>parent.__pwned='svg script'</script><circle r='5'/></svg>"
                        }
                    ),
                    display({"application/javascript": "window.__pwned = 'javascript output'"}),
                    display({"image/png": 'AAAA" onerror="window.__pwned=1'}),
                    stream("<script>window.__pwned = 'stream'</script>\n"),
                ],
                1,
            ),
        ]
    )


def parquet_bytes(rows: int = 100) -> bytes:
    """A table of several kinds of column, written by pyarrow in row groups of 40."""
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "species": pa.array([("setosa", "versicolor", "virginica")[i % 3] for i in range(rows)]),
            "sepal_length": pa.array([4.3 + (i % 36) / 10 for i in range(rows)]),
            "measured_at": pa.array(
                [start + datetime.timedelta(hours=i) for i in range(rows)], pa.timestamp("us", tz="UTC")
            ),
            "tags": pa.array([["train"] if i % 5 else ["train", "holdout"] for i in range(rows)]),
            "raw": pa.array([bytes([i % 256]) * 3 for i in range(rows)], pa.binary()),
            "notes": pa.array([None if i % 4 else "x" * 2000 for i in range(rows)], pa.string()),
        },
        schema=pa.schema(
            [
                pa.field("id", pa.int64(), nullable=False),
                pa.field("species", pa.string()),
                pa.field("sepal_length", pa.float64()),
                pa.field("measured_at", pa.timestamp("us", tz="UTC")),
                pa.field("tags", pa.list_(pa.string())),
                pa.field("raw", pa.binary()),
                pa.field("notes", pa.string()),
            ]
        ),
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=40)
    return buffer.getvalue()


def wav_bytes(seconds: float = 1.0, rate: int = 8000, frequency: float = 440.0) -> bytes:
    """A sine tone as 16-bit mono PCM WAV."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * index / rate)))
        for index in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()
