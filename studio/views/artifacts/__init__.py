"""Studio pages: the file browser every Artifacts tab shares, and the run's Artifacts tab.

- `browser`: roots, the tree and the page context of a selected file or folder;
- `preview`: what the preview pane shows of a file (bounded reads);
- `serving`: the raw bytes and the sandboxed HTML of a file;
- `run_tab`: the run's tab (its files and its logged models'), and deleting.
"""

from studio.views.artifacts.browser import ArtifactRoot, BadPath, bad_path, browse, folder_of
from studio.views.artifacts.run_tab import urlpatterns
from studio.views.artifacts.serving import serve_html, serve_raw, stream_file

__all__ = [
    "ArtifactRoot",
    "BadPath",
    "bad_path",
    "browse",
    "folder_of",
    "serve_html",
    "serve_raw",
    "stream_file",
    "urlpatterns",
]
