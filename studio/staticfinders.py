"""plotly.js served from our own static files, taken from the `plotly` Python package.

The studio works offline (no CDN), and the full bundle is not copied into the repository: this
finder lets collectstatic and WhiteNoise find it at `vendor/plotly.min.js` inside the installed
package. Only the compare page needs it (parallel coordinates). The run's Metrics tab draws line
charts alone and loads `static/vendor/plotly-basic.min.js` (plotly.js's own "basic" bundle, npm's
plotly.js-basic-dist-min, of the same version): a quarter of the size, and a first visit spends
most of its time compiling plotly.js.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_JS = "vendor/plotly.min.js"


def _plotly_folder() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyFinder(BaseFinder):
    def check(self, **kwargs) -> list:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs):
        if path != PLOTLY_JS:
            return [] if find_all else None
        found = str(_plotly_folder() / "plotly.min.js")
        return [found] if find_all else found

    def list(self, ignore_patterns):
        storage = FileSystemStorage(location=str(_plotly_folder()))
        storage.prefix = "vendor"
        yield "plotly.min.js", storage
