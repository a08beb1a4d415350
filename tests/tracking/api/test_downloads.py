"""How a download names and types itself: as MLflow's server does, and never as a page."""

import pytest

from tracking.api.downloads import attachment_disposition, inert_content_type


@pytest.mark.parametrize(
    ("name", "disposition"),
    [
        (
            "dog+step+20+timestamp+100+created+1.webp",
            "attachment; filename=dog+step+20+timestamp+100+created+1.webp",
        ),
        ("a b.txt", 'attachment; filename="a b.txt"'),
        ('x"; filename=evil.html', 'attachment; filename="x_; filename=evil.html"'),
        ("a\r\nSet-Cookie: s=1", 'attachment; filename="a__Set-Cookie: s=1"'),
        ("a\\b\x7f", 'attachment; filename="a_b_"'),
        ("résumé.txt", "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt"),
    ],
)
def test_a_plain_token_is_written_bare_and_anything_else_quoted_so_it_cannot_end_the_header(
    name, disposition
):
    assert attachment_disposition(name) == disposition


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("MLmodel", "text/plain"),
        ("model/MLproject", "text/plain"),
        ("mlproject", "text/plain"),
        ("a.txt", "text/plain"),
        ("c.png", "image/png"),
        ("d.pdf", "application/pdf"),
        ("b.pkl", "application/octet-stream"),
        ("page.html", "application/octet-stream"),
        ("chart.svg", "application/octet-stream"),
        ("data.xml", "application/octet-stream"),
        ("app.js", "application/octet-stream"),
        (".yaml", "application/octet-stream"),
    ],
)
def test_a_download_keeps_its_type_unless_a_browser_would_run_it(name, content_type):
    assert inert_content_type(name) == content_type
