"""The artifact proxy over raw HTTP: traversal, directories, missing files, ranges, limits, partial uploads."""

from __future__ import annotations

import http.client
import json
import re
import socket
from urllib.parse import urlsplit

import pytest
import requests

from tests.object_stores import file_names
from tracking.artifacts import default_store

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts

BASE = "/api/2.0/mlflow-artifacts/artifacts"


def raw_client(url: str):
    """Sends a request line exactly as written: no client-side cleaning of `..` or `//`."""
    where = urlsplit(url)

    def send(method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), payload

    return send


@pytest.fixture
def raw(streaming_uri, artifact_root):
    return raw_client(streaming_uri)


def stored_files() -> set[str]:
    """The files of the artifact store outside every workspace's part: where a path that escaped
    its workspace would land. (What is inside the parts belongs to the tests that run meanwhile,
    on other xdist workers sharing a local store.)"""
    return {info.path for info in default_store().walk() if not re.match(r"workspaces/\d+/", info.path)}


def put(raw, path: str, data: bytes):
    return raw("PUT", f"{BASE}/{path}", body=data, headers={"Content-Length": str(len(data))})


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "1/../../../etc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
        "1/%2E%2E/%2E%2E/x",
        "..%2f..%2fx",
        "/etc/passwd",
        "1/run/artifacts/a%00b",
        "1/run/artifacts/a%5c..%5cb",
    ],
)
def test_traversal_attempts_are_invalid_and_touch_nothing(raw, path):
    before = stored_files()
    for method, body in (("GET", None), ("PUT", b"x"), ("DELETE", None)):
        status, _, payload = raw(
            method, f"{BASE}/{path}", body=body, headers={"Content-Length": "1"} if body else {}
        )
        assert status == 400, (method, path, payload)
        assert json.loads(payload)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert stored_files() == before


def test_a_listing_with_a_traversal_path_is_invalid(tracking_uri):
    response = requests.get(f"{tracking_uri}{BASE}", params={"path": "../.."}, timeout=30)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_upload_download_list_and_content_headers(raw):
    assert put(raw, "1/r/artifacts/data/table.csv", b"a,b\n1,2\n")[0] == 200
    status, headers, payload = raw("GET", f"{BASE}/1/r/artifacts/data/table.csv")
    assert (status, payload) == (200, b"a,b\n1,2\n")
    assert headers["Content-Length"] == "8"
    assert headers["Content-Type"] == "text/plain"  # MLflow's server shows CSV as text
    assert headers["Accept-Ranges"] == "bytes"
    status, _, payload = raw("GET", f"{BASE}?path=1/r/artifacts")
    assert json.loads(payload) == {"files": [{"path": "data", "is_dir": True}]}


def test_byte_ranges_are_served(raw):
    put(raw, "1/r/artifacts/digits.txt", b"0123456789")
    status, headers, payload = raw("GET", f"{BASE}/1/r/artifacts/digits.txt", headers={"Range": "bytes=2-5"})
    assert (status, payload, headers["Content-Range"]) == (206, b"2345", "bytes 2-5/10")
    status, _, payload = raw("GET", f"{BASE}/1/r/artifacts/digits.txt", headers={"Range": "bytes=-3"})
    assert (status, payload) == (206, b"789")
    status, headers, _ = raw("GET", f"{BASE}/1/r/artifacts/digits.txt", headers={"Range": "bytes=20-"})
    assert (status, headers["Content-Range"]) == (416, "bytes */10")


def test_a_directory_get_is_a_clear_400_and_a_missing_file_a_404(raw):
    put(raw, "1/r/artifacts/folder/file.txt", b"x")
    status, _, payload = raw("GET", f"{BASE}/1/r/artifacts/folder")
    assert status == 400
    assert "directory" in json.loads(payload)["message"]
    status, _, payload = raw("GET", f"{BASE}/1/r/artifacts/nothing.txt")
    assert status == 404
    assert json.loads(payload)["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_an_upload_to_a_path_ending_in_a_slash_is_refused(raw):
    status, _, payload = put(raw, "1/r/artifacts/folder/", b"x")
    assert status == 400
    assert json.loads(payload)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_an_upload_over_the_limit_is_refused_with_413_and_leaves_nothing(small_limits_uri, artifact_root):
    status, _, payload = put(raw_client(small_limits_uri), "1/r/artifacts/big.bin", b"x" * 5000)
    assert status == 413
    assert json.loads(payload)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert file_names(artifact_root) == []


def test_an_interrupted_upload_leaves_no_file_under_its_name(streaming_uri, artifact_root, raw):
    put(raw, "1/r/artifacts/model.bin", b"old version")
    where = urlsplit(streaming_uri)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(
            f"PUT {BASE}/1/r/artifacts/model.bin HTTP/1.1\r\nHost: {where.netloc}\r\n"
            "Content-Length: 1000000\r\n\r\n".encode()
            + b"partial" * 100
        )
        sock.shutdown(socket.SHUT_WR)
        sock.recv(65536)
    status, _, payload = raw("GET", f"{BASE}/1/r/artifacts/model.bin")
    assert (status, payload) == (200, b"old version")
    assert file_names(artifact_root) == ["model.bin"]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("report.html", b"<script>fetch('/api/studio/v1/workspaces', {method: 'POST'})</script>"),
        ("chart.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("page.xhtml", b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>'),
        ("data.xml", b"<?xml version='1.0'?><x/>"),
        ("app.js", b"alert(1)"),
    ],
)
def test_an_uploaded_page_or_script_is_never_served_as_one(raw, name, body):
    """Stored XSS: an artifact served inline as text/html on the studio's origin would run there,
    with the visitor's session."""
    assert put(raw, f"1/r/artifacts/{name}", body)[0] == 200

    status, headers, payload = raw("GET", f"{BASE}/1/r/artifacts/{name}")

    assert (status, payload) == (200, body)
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == f"attachment; filename={name}"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("sandbox")


def test_a_passive_file_keeps_its_type_and_is_still_an_attachment_that_cannot_run_anything(raw):
    """MLflow's server sends every download as an attachment; so do we."""
    put(raw, "1/r/artifacts/table.csv", b"a,b\n")
    _, headers, _ = raw("GET", f"{BASE}/1/r/artifacts/table.csv")
    assert headers["Content-Type"] == "text/plain"
    assert headers["Content-Disposition"] == "attachment; filename=table.csv"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("MLmodel", "text/plain"),
        ("MLproject", "text/plain"),
        ("conda.yaml", "text/plain"),
        ("report.pdf", "application/pdf"),
        ("weights.pkl", "application/octet-stream"),
    ],
)
def test_a_download_is_typed_as_mlflow_s_server_types_it(raw, name, content_type):
    """MLflow shows MLmodel and MLproject as text; a PDF keeps its type since, as an attachment
    with nosniff and a sandbox policy, it is saved rather than rendered on our origin."""
    put(raw, f"1/r/artifacts/{name}", b"x")
    _, headers, _ = raw("GET", f"{BASE}/1/r/artifacts/{name}")
    assert headers["Content-Type"] == content_type
    assert headers["Content-Disposition"] == f"attachment; filename={name}"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize(
    ("stored", "disposition"),
    [
        ("a%20b.txt", 'attachment; filename="a b.txt"'),
        ("a%22%3B%20x%3Dy.txt", 'attachment; filename="a_; x=y.txt"'),
        ("it%27s%20%C3%A9t%C3%A9.txt", "attachment; filename*=utf-8''it%27s%20%C3%A9t%C3%A9.txt"),
    ],
)
def test_a_name_that_is_not_a_plain_token_is_quoted_and_cannot_end_the_header(raw, stored, disposition):
    put(raw, f"1/r/artifacts/{stored}", b"x")
    _, headers, _ = raw("GET", f"{BASE}/1/r/artifacts/{stored}")
    assert headers["Content-Disposition"] == disposition


def test_a_download_named_outside_ascii_carries_its_name_as_rfc_5987_says(raw):
    put(raw, "1/r/artifacts/r%C3%A9sum%C3%A9.txt", b"hello")
    _, headers, _ = raw("GET", f"{BASE}/1/r/artifacts/r%C3%A9sum%C3%A9.txt")
    assert headers["Content-Disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt"
