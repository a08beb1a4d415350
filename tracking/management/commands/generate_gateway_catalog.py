"""Writes tracking/gateway_catalog.json.gz: the AI gateway's providers, models and auth forms.

The UI's gateway pages ask for the providers one can configure, their models and the fields each
provider's credentials have. MLflow answers from the model catalog its package ships; the server
never imports mlflow, so this command copies that catalog (the bundled one only: no network) into
a compressed data file. Run it again after upgrading mlflow.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand

CATALOG_PATH = Path(__file__).resolve().parents[2] / "gateway_catalog.json.gz"


class Command(BaseCommand):
    help = "Regenerate the AI gateway's provider catalog from the installed mlflow package."

    def handle(self, *args, **options) -> None:
        # The bundled catalog only: an empty URI turns mlflow's remote fetch off.
        os.environ["MLFLOW_MODEL_CATALOG_URI"] = ""
        from mlflow.utils.providers import get_all_providers, get_models, get_provider_config_response

        providers = sorted(get_all_providers())
        catalog = {
            "providers": providers,
            "models": get_models(),
            "provider_configs": {name: get_provider_config_response(name) for name in providers},
        }
        data = json.dumps(catalog, separators=(",", ":"), sort_keys=True).encode()
        CATALOG_PATH.write_bytes(gzip.compress(data, mtime=0))
        self.stdout.write(
            f"wrote {CATALOG_PATH} ({len(providers)} providers, {len(catalog['models'])} models)"
        )
