"""Settings, read from the environment, with defaults that work on a laptop.

Everything a deployment changes is an environment variable (see README, "Configuration").
Nothing here raises on a bad value: problems are collected in CONFIG_ERRORS and reported by the
system checks in `studio.checks`, so `manage.py serve`/`migrate` stop with a clear message
instead of a traceback from deep inside Django.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG_ERRORS: list[str] = []


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if not raw:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    CONFIG_ERRORS.append(f"{name}={raw!r} is not a boolean (use true or false).")
    return default


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        CONFIG_ERRORS.append(f"{name}={raw!r} is not an integer.")
        return default


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name)
    return [item.strip() for item in raw.split(",") if item.strip()] if raw else default


# --- Where things live -------------------------------------------------------------------------

DATA_DIR = Path(env_str("STUDIO_DATA_DIR") or BASE_DIR / "data").resolve()
ARTIFACT_ROOT = Path(env_str("STUDIO_ARTIFACT_ROOT") or DATA_DIR / "artifacts").resolve()
STUDIO_HOST = env_str("STUDIO_HOST", "127.0.0.1")
STUDIO_PORT = env_int("STUDIO_PORT", 8000)


def _secret_key() -> str:
    """The configured key, or one generated once and kept in the data folder (laptop mode)."""
    configured = env_str("STUDIO_SECRET_KEY") or env_str("DJANGO_SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        try:
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(50)
            key_file.write_text(key)
            key_file.chmod(0o600)
            return key
        except OSError as exc:
            CONFIG_ERRORS.append(f"cannot keep a secret key in {key_file}: {exc}. Set STUDIO_SECRET_KEY.")
    return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
DEBUG = env_bool("STUDIO_DEBUG", False)
ALLOWED_HOSTS = env_list(
    "STUDIO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver", STUDIO_HOST]
)
CSRF_TRUSTED_ORIGINS = env_list("STUDIO_CSRF_TRUSTED_ORIGINS", [])

# --- Applications ------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "studio.apps.StudioConfig",
    "tracking.apps.TrackingConfig",
    "registry.apps.RegistryConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"
# The MLflow client posts to paths without a trailing slash; never redirect them.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'studio.sqlite3'}"


def _database(url: str) -> dict:
    try:
        # Persistent connections without a health check per request (it costs a round trip on
        # every API call); Django drops a connection that failed and opens a new one.
        config = dj_database_url.parse(url, conn_max_age=600, conn_health_checks=False)
    except Exception as exc:  # dj_database_url raises plain ValueError/KeyError on odd URLs
        CONFIG_ERRORS.append(f"DATABASE_URL is not usable ({exc}). Example: postgresql://user@host:5432/db")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        # WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at the
        # start of a transaction, so concurrent writers queue on busy_timeout instead of failing
        # with "database is locked" when a read lock cannot be upgraded.
        config["CONN_MAX_AGE"] = None
        config["CONN_HEALTH_CHECKS"] = False
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA temp_store=MEMORY;"
                "PRAGMA cache_size=-65536;"
                "PRAGMA mmap_size=268435456;"
            ),
        }
        config.setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test-studio.sqlite3")
    elif engine == "django.db.backends.postgresql":
        config.setdefault("OPTIONS", {})
    else:
        CONFIG_ERRORS.append(f"DATABASE_URL uses {engine}; Studio supports SQLite and PostgreSQL.")
    return config


DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ------------------------------------------------------------------------------------

BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's folder transport: one folder for both directions, made before the worker starts.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
elif urlsplit(CELERY_BROKER_URL).scheme not in {"redis", "rediss", "amqp", "pyamqp"}:
    CONFIG_ERRORS.append(f"CELERY_BROKER_URL={CELERY_BROKER_URL!r}: use redis://, amqp:// or filesystem://.")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "studio.tasks.record_worker_heartbeat", "schedule": 30.0},
    "planner-statistics": {"task": "studio.tasks.refresh_planner_statistics", "schedule": 60.0},
}
WORKER_HEARTBEAT_STALE_SECONDS = 90

# --- Tracking ----------------------------------------------------------------------------------

# Largest request body the tracking API accepts (MLflow's own limit for log-batch is 1 MB;
# experiment/run tags can be larger, so leave room).
TRACKING_MAX_REQUEST_BYTES = env_int("STUDIO_MAX_REQUEST_BYTES", 16 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = TRACKING_MAX_REQUEST_BYTES
# Largest single artifact file an upload may write (413 beyond); uploads stream to disk.
ARTIFACT_MAX_UPLOAD_BYTES = env_int("STUDIO_MAX_ARTIFACT_BYTES", 50 * 1024**3)

# --- Static files, i18n ------------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "studio.staticfinders.PlotlyFinder",
]
STATIC_ROOT = Path(env_str("STUDIO_STATIC_ROOT") or DATA_DIR / "static").resolve()
# After collectstatic (which `make run` does) files get content hashes in their names and are
# cached for good; before it (tests, a fresh checkout) they are served as they are.
_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists() or "collectstatic" in sys.argv
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not _COLLECTED
WHITENOISE_MAX_AGE = 3600

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("STUDIO_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
