"""Settings, read from the environment, with defaults that work on a laptop.

Everything a deployment changes is an environment variable (see README, "Configuration").
Nothing here raises on a bad value: problems are collected in CONFIG_ERRORS and reported by the
system checks in `studio.checks`, so `manage.py serve`/`migrate` stop with a clear message
instead of a traceback from deep inside Django.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from kombu import Exchange, Queue

from studio.locations import BASE_DIR, data_dir, database_url
from studio.sqlite_checkpoints import PRAGMAS as SQLITE_CHECKPOINT_PRAGMAS

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

DATA_DIR = data_dir()


def _artifact_root() -> Path | str:
    """A folder on this machine (a path or file:// URI), or an object store's URI kept as given
    (`s3://bucket/prefix`, `wasbs://container@account.blob.core.windows.net/prefix`)."""
    configured = env_str("STUDIO_ARTIFACT_ROOT")
    if not configured:
        return (DATA_DIR / "artifacts").resolve()
    scheme = urlsplit(configured).scheme.lower()
    if len(scheme) <= 1:
        return Path(configured).resolve()
    if scheme == "file":
        return Path(unquote(urlsplit(configured).path)).resolve()
    return configured.rstrip("/")


ARTIFACT_ROOT = _artifact_root()
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
# The AI gateway's provider secrets are encrypted with this key (tracking.secrets). Unset, a key
# derived from SECRET_KEY is used (and a warning logged): fine on a laptop, but then changing
# SECRET_KEY makes the stored secrets unreadable. To rotate, set the new key here, list the old
# ones in STUDIO_SECRETS_PREVIOUS_KEYS and run `manage.py reseal_gateway_secrets`.
GATEWAY_SECRETS_KEY = env_str("STUDIO_SECRETS_KEY")
GATEWAY_SECRETS_PREVIOUS_KEYS = env_list("STUDIO_SECRETS_PREVIOUS_KEYS", [])
if any(0 < len(key) < 16 for key in [GATEWAY_SECRETS_KEY, *GATEWAY_SECRETS_PREVIOUS_KEYS]):
    CONFIG_ERRORS.append(
        "STUDIO_SECRETS_KEY (and each of STUDIO_SECRETS_PREVIOUS_KEYS) must be 16 characters or more."
    )
# A gateway secret's `api_base` must be a public https:// address unless this allows private ones
# (a model server on the local network); link-local ones (cloud metadata) never are.
GATEWAY_ALLOW_PRIVATE_API_BASE = env_bool("STUDIO_GATEWAY_ALLOW_PRIVATE_API_BASE", False)
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
    "tracking.access.apps.AccessConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "studio.accounts.middleware.RouteAccessMiddleware",
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

DATABASE_URL = database_url()


# Executions of one statement on one connection before psycopg prepares it on the server.
POSTGRES_PREPARE_THRESHOLD = 2


def _set_server_option(config: dict, name: str, value: str) -> None:
    """A PostgreSQL setting for each of Studio's connections (libpq's `options`, `-c name=value`)."""
    options = config["OPTIONS"].get("options", "")
    config["OPTIONS"]["options"] = f"{options} -c {name}={value}".strip()


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
        config["ENGINE"] = "studio.db_backends.sqlite3"  # Django's, with placeholders converted once
        config["CONN_MAX_AGE"] = None
        config["CONN_HEALTH_CHECKS"] = False
        config["OPTIONS"] = {
            # How long a write waits for the lock another holds. A web request then answers 503
            # with Retry-After (the MLflow client retries), rather than keep its client for 30 s;
            # `manage.py serve` gives its worker, whose work is not someone waiting, 30 s.
            "timeout": env_int("STUDIO_SQLITE_BUSY_SECONDS", 5),
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA temp_store=MEMORY;"
                "PRAGMA cache_size=-65536;"
                "PRAGMA mmap_size=268435456;"
            )
            # Checkpoints are a web worker's thread's work (studio.sqlite_checkpoints).
            + SQLITE_CHECKPOINT_PRAGMAS,
        }
        config.setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test-studio.sqlite3")
    elif engine == "django.db.backends.postgresql":
        config.setdefault("OPTIONS", {})
        # Off, a commit answers before PostgreSQL has flushed its WAL to disk (about 1 ms here per
        # write: docs/benchmarks.md); a crash of the database's machine or server may then lose
        # the last fraction of a second of acknowledged writes, never corrupt anything: SQLite's
        # WAL with synchronous=NORMAL, as configured above, gives up as much on a power loss.
        # PostgreSQL's default (on) stays ours.
        synchronous_commit = env_str("STUDIO_POSTGRES_SYNCHRONOUS_COMMIT", "on")
        if synchronous_commit not in {"on", "off", "local", "remote_write", "remote_apply"}:
            CONFIG_ERRORS.append(
                f"STUDIO_POSTGRES_SYNCHRONOUS_COMMIT={synchronous_commit!r} is not one of PostgreSQL's "
                "synchronous_commit values (on, off, local, remote_write, remote_apply)."
            )
        elif synchronous_commit != "on":
            _set_server_option(config, "synchronous_commit", synchronous_commit)
        # What the planner charges for reading a page out of order, against in order. PostgreSQL's
        # default (4) prices a spinning disk: with it, a page of 100 runs read its params, tags
        # and metrics by scanning those whole tables (5.6 ms at 5,000 runs) rather than through
        # their per-run indexes (0.5 ms; docs/benchmarks.md). 1.1 is the usual figure for SSDs
        # and for a database held in memory; "server" keeps what the server is configured with.
        random_page_cost = env_str("STUDIO_POSTGRES_RANDOM_PAGE_COST", "1.1")
        if random_page_cost != "server":
            try:
                cost = float(random_page_cost)
                if not 0 < cost < 1000:
                    raise ValueError(random_page_cost)
            except ValueError:
                CONFIG_ERRORS.append(
                    f"STUDIO_POSTGRES_RANDOM_PAGE_COST={random_page_cost!r} is not a positive number below "
                    "1000 (or 'server', to keep the database server's own setting)."
                )
            else:
                _set_server_option(config, "random_page_cost", f"{cost:g}")
        # PostgreSQL compiles a query to machine code when the planner's cost estimate passes
        # jit_above_cost: 20 ms of compiling for a query that runs in 2 (the home page's counts
        # of experiments, runs and models per workspace, at 5,000 runs: docs/benchmarks.md).
        # Studio's queries are short and many; "on" or "server" keep PostgreSQL's JIT.
        jit = env_str("STUDIO_POSTGRES_JIT", "off")
        if jit not in {"off", "on", "server"}:
            CONFIG_ERRORS.append(f"STUDIO_POSTGRES_JIT={jit!r} is not one of off, on or server.")
        elif jit != "server":
            _set_server_option(config, "jit", jit)
        if env_bool("STUDIO_POSTGRES_PREPARED_STATEMENTS", True):
            # Parameters bound by the server, and a statement run twice on a connection prepared
            # there: the hot statements (a metric's upsert, a run's look-up, a page of runs) are
            # then parsed and planned once per connection, not on every call (docs/benchmarks.md:
            # log_metric 11% sooner). Off, Django binds on the client, as behind a pooler that
            # cannot keep prepared statements (PgBouncer in transaction mode).
            config["OPTIONS"]["server_side_binding"] = True
            config["OPTIONS"]["prepare_threshold"] = POSTGRES_PREPARE_THRESHOLD
    else:
        CONFIG_ERRORS.append(f"DATABASE_URL uses {engine}; Studio supports SQLite and PostgreSQL.")
    return config


DATABASES = {"default": _database(DATABASE_URL)}
# How often each web worker writes SQLite's WAL back into the database (studio.sqlite_checkpoints);
# 0 leaves it to SQLite's own, much later, automatic checkpoints.
SQLITE_CHECKPOINT_SECONDS = env_int("STUDIO_SQLITE_CHECKPOINT_SECONDS", 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ------------------------------------------------------------------------------------

BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The folder transport ignores the host, but kombu warns on every connection that has none.
    # Celery reads the variable itself, ahead of these settings, so it is set there too.
    if not urlsplit(CELERY_BROKER_URL).hostname:
        CELERY_BROKER_URL = "filesystem://localhost/"
        if "CELERY_BROKER_URL" in os.environ:
            os.environ["CELERY_BROKER_URL"] = CELERY_BROKER_URL
    # kombu's folder transport (studio.celery puts studio/folder_broker.py's in its place): one
    # folder for both directions, made before the worker starts.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
elif urlsplit(CELERY_BROKER_URL).scheme not in {"redis", "rediss", "amqp", "pyamqp"}:
    CONFIG_ERRORS.append(f"CELERY_BROKER_URL={CELERY_BROKER_URL!r}: use redis://, amqp:// or filesystem://.")
# Workers started without --queues (the one `make run` starts) take the server's own work (the
# default queue) and the jobs of the compute target "default"; `serve --only worker --queues X`
# takes only the jobs of target X (queue jobs.X).
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Each queue its own exchange and routing key, as a target's queue gets when a worker or a sender
# first names it: a message for one queue never lands in another.
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name, type="direct"), routing_key=name) for name in ("celery", "jobs.default")
]
# What the worker of this process serves, set by `manage.py serve` for its worker (heartbeats).
WORKER_TARGETS = env_list("STUDIO_WORKER_TARGETS", ["default"])
WORKER_SERVES_GENERAL = env_bool("STUDIO_WORKER_GENERAL", True)
WORKER_HEARTBEAT_SECONDS = 15
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# How often the worker looks for tables that changed a lot since the planner last read them
# (one query on pg_stat_user_tables; ANALYZE only where needed): a bulk write's searches get
# plans for the new sizes within seconds, not at autovacuum's next minute.
PLANNER_STATISTICS_SECONDS = env_int("STUDIO_PLANNER_STATISTICS_SECONDS", 5)
CELERY_BEAT_SCHEDULE = {
    "planner-statistics": {
        "task": "studio.tasks.refresh_planner_statistics",
        "schedule": float(max(PLANNER_STATISTICS_SECONDS, 1)),
    },
}
WORKER_HEARTBEAT_STALE_SECONDS = 90

# --- Imports of MLflow file stores -------------------------------------------------------------

# Uploaded archives and what they unpack to, kept until their import ends.
IMPORTS_DIR = Path(env_str("STUDIO_IMPORTS_DIR") or DATA_DIR / "imports").resolve()
IMPORT_MAX_ARCHIVE_BYTES = env_int("STUDIO_IMPORT_MAX_ARCHIVE_BYTES", 20 * 1024**3)
IMPORT_MAX_EXTRACTED_BYTES = env_int("STUDIO_IMPORT_MAX_EXTRACTED_BYTES", 20 * 1024**3)
# An archive is unpacked only if this much disk stays free after it.
IMPORT_DISK_RESERVE_BYTES = env_int("STUDIO_IMPORT_DISK_RESERVE_BYTES", 2 * 1024**3)
IMPORT_MAX_ARCHIVE_FILES = env_int("STUDIO_IMPORT_MAX_ARCHIVE_FILES", 2_000_000)
# An import commits every IMPORT_CHUNK_POINTS metric points and after IMPORT_CHUNK_RUNS runs; an
# interrupted import resumes from its last commit. On SQLite a commit also releases the write lock.
IMPORT_CHUNK_POINTS = env_int("STUDIO_IMPORT_CHUNK_POINTS", 100_000)
IMPORT_CHUNK_RUNS = env_int("STUDIO_IMPORT_CHUNK_RUNS", 100)
# A running import whose worker has been silent this long is taken over; the sweeper looks for
# such imports (and for queued ones whose message got lost) this often.
IMPORT_STALE_SECONDS = env_int("STUDIO_IMPORT_STALE_SECONDS", 120)
IMPORT_SWEEP_SECONDS = env_int("STUDIO_IMPORT_SWEEP_SECONDS", 60)
CELERY_BEAT_SCHEDULE["import-sweeper"] = {
    "task": "tracking.tasks.sweep_imports",
    "schedule": float(max(IMPORT_SWEEP_SECONDS, 1)),
}

# When the worker runs as root, the sandbox runs as this unprivileged user and group outside (so that
# the kernel counts and limits its processes; root is exempt from RLIMIT_NPROC).
JOB_UID = env_int("STUDIO_JOB_UID", 65534)
JOB_GID = env_int("STUDIO_JOB_GID", 65534)


def _sandbox_reachable(data_dir: Path) -> Path:
    """Where jobs' folders and environments go by default: the data folder, unless the worker runs
    as root and the jobs' sandbox user (STUDIO_JOB_UID, an unprivileged one) cannot enter it (a
    checkout under /root, say); then a folder of this data folder's own under the system's
    temporary folder, which that user can enter and nobody else can list."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return data_dir
    for folder in [*reversed(data_dir.parents), data_dir]:
        try:
            info = folder.stat()
        except OSError:
            break  # not made yet: it will be, by us, searchable
        bit = 0o100 if info.st_uid == JOB_UID else 0o010 if info.st_gid == JOB_GID else 0o001
        if not info.st_mode & bit:
            digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:10]
            fallback = Path(tempfile.gettempdir()) / f"studio-jobs-{digest}"
            try:
                fallback.mkdir(mode=0o711, exist_ok=True)
            except OSError as exc:
                CONFIG_ERRORS.append(f"cannot make {fallback} for jobs' folders: {exc}. Set STUDIO_JOBS_DIR.")
            return fallback
    return data_dir


# --- Jobs (remote runs) ------------------------------------------------------------------------

# Uploaded snapshots, the folders jobs run in, and their captured output before it is stored.
JOBS_DIR = Path(env_str("STUDIO_JOBS_DIR") or _sandbox_reachable(DATA_DIR) / "jobs").resolve()
# A snapshot (the zipped source folder) larger than this is refused (Azure ML's limit is 300 MB).
JOB_MAX_SNAPSHOT_BYTES = env_int("STUDIO_JOB_MAX_SNAPSHOT_BYTES", 300 * 1024**2)
# ...and one that would unpack to more than this (a zip bomb) is refused by the worker.
JOB_MAX_UNPACKED_BYTES = env_int("STUDIO_JOB_MAX_UNPACKED_BYTES", 10 * JOB_MAX_SNAPSHOT_BYTES)
# Output kept per job (stdout and stderr together); past it the rest is counted, not kept.
JOB_MAX_OUTPUT_BYTES = env_int("STUDIO_JOB_MAX_OUTPUT_BYTES", 20 * 1024**2)
# A job runs at most this long unless it asks for another limit.
JOB_TIME_LIMIT_SECONDS = env_int("STUDIO_JOB_TIME_LIMIT_SECONDS", 24 * 3600)
# How often the captured output is written to the run's logs/std_log.txt while the job runs.
JOB_LOG_FLUSH_SECONDS = float(env_int("STUDIO_JOB_LOG_FLUSH_MS", 2000)) / 1000
# A running job whose worker has been silent this long is failed; the sweeper looks this often.
JOB_STALE_SECONDS = env_int("STUDIO_JOB_STALE_SECONDS", 60)
JOB_SWEEP_SECONDS = env_int("STUDIO_JOB_SWEEP_SECONDS", 60)
# The address the job's MLflow client uses to reach this server (MLFLOW_TRACKING_URI is this
# plus /ws/<workspace>); by default the address `manage.py serve` listens on.
_SERVE_HOST = "127.0.0.1" if STUDIO_HOST in ("0.0.0.0", "::", "") else STUDIO_HOST
SERVER_URL = (
    env_str("STUDIO_SERVER_URL")
    or (
        f"http://[{_SERVE_HOST}]:{STUDIO_PORT}"
        if ":" in _SERVE_HOST
        else f"http://{_SERVE_HOST}:{STUDIO_PORT}"
    )
).rstrip("/")
if urlsplit(SERVER_URL).scheme not in ("http", "https"):
    CONFIG_ERRORS.append(f"STUDIO_SERVER_URL={SERVER_URL!r}: use an http:// or https:// URL.")
# Environment variables of the worker a job may see besides PATH, HOME, locale and MLflow's own
# (the worker's DATABASE_URL and secret key never reach a job).
JOB_ENV_PASSTHROUGH = env_list("STUDIO_JOB_ENV_PASSTHROUGH", [])
# A job may not ask for a time limit longer than this (a submission asking for more is refused).
JOB_MAX_TIME_LIMIT_SECONDS = env_int("STUDIO_JOB_MAX_TIME_LIMIT_SECONDS", 7 * 24 * 3600)
if JOB_TIME_LIMIT_SECONDS > JOB_MAX_TIME_LIMIT_SECONDS:
    CONFIG_ERRORS.append(
        f"STUDIO_JOB_TIME_LIMIT_SECONDS={JOB_TIME_LIMIT_SECONDS} is more than "
        f"STUDIO_JOB_MAX_TIME_LIMIT_SECONDS={JOB_MAX_TIME_LIMIT_SECONDS}."
    )

# The job's sandbox (tracking/jobs/sandbox.py): "auto" uses bubblewrap where it works and runs jobs
# unsandboxed elsewhere (local mode only, unless STUDIO_JOBS_UNSANDBOXED); "bubblewrap" insists on it
# (start-up fails without it); "none" never sandboxes.
JOBS_SANDBOX = env_str("STUDIO_JOBS_SANDBOX", "auto").lower()
if JOBS_SANDBOX not in ("auto", "bubblewrap", "none"):
    CONFIG_ERRORS.append(f"STUDIO_JOBS_SANDBOX={JOBS_SANDBOX!r}: use auto, bubblewrap or none.")
# With sign-in required, jobs are refused rather than run without a sandbox unless this is true.
JOBS_UNSANDBOXED = env_bool("STUDIO_JOBS_UNSANDBOXED", False)
# The bubblewrap program.
JOBS_BWRAP = env_str("STUDIO_JOBS_BWRAP", "/usr/bin/bwrap")
# Limits of every job (each process's address space; processes and threads; open files per
# process; the size of any file it writes; its /tmp and /dev/shm, which are memory, share the
# memory limit).
JOB_MEMORY_MB = env_int("STUDIO_JOB_MEMORY_MB", 8192)
JOB_MAX_PROCESSES = env_int("STUDIO_JOB_MAX_PROCESSES", 1024)
JOB_MAX_OPEN_FILES = env_int("STUDIO_JOB_MAX_OPEN_FILES", 4096)
JOB_MAX_FILE_BYTES = env_int("STUDIO_JOB_MAX_FILE_BYTES", 10 * 1024**3)
for _name, _value, _least in (
    ("STUDIO_JOB_MEMORY_MB", JOB_MEMORY_MB, 64),
    ("STUDIO_JOB_MAX_PROCESSES", JOB_MAX_PROCESSES, 8),
    ("STUDIO_JOB_MAX_OPEN_FILES", JOB_MAX_OPEN_FILES, 32),
    ("STUDIO_JOB_MAX_FILE_BYTES", JOB_MAX_FILE_BYTES, 1024),
    ("STUDIO_JOB_MAX_TIME_LIMIT_SECONDS", JOB_MAX_TIME_LIMIT_SECONDS, 1),
):
    if _value < _least:
        CONFIG_ERRORS.append(f"{_name}={_value} is too small (at least {_least}).")

# --- Jobs' environments (tracking/jobs/environments.py) --------------------------------------------

# The virtual environments built for jobs (with uv), cached by their specification's hash, and
# uv's own download cache (.uv-cache inside, on the same disk so that installs are hard links).
ENVIRONMENTS_DIR = Path(
    env_str("STUDIO_ENVIRONMENTS_DIR") or _sandbox_reachable(DATA_DIR) / "environments"
).resolve()
# Past this total, the least recently used environments no running job uses are removed.
ENVIRONMENTS_MAX_BYTES = env_int("STUDIO_ENVIRONMENTS_MAX_BYTES", 50 * 1024**3)
# The package index environments install from (empty: uv's default, PyPI, or UV_INDEX_URL).
ENVIRONMENTS_INDEX_URL = env_str("STUDIO_ENVIRONMENTS_INDEX_URL")
# How long one environment's installation may take.
ENVIRONMENT_BUILD_TIMEOUT_SECONDS = env_int("STUDIO_ENVIRONMENT_BUILD_TIMEOUT_SECONDS", 1800)
if ENVIRONMENTS_INDEX_URL and urlsplit(ENVIRONMENTS_INDEX_URL).scheme not in ("http", "https", "file"):
    CONFIG_ERRORS.append(f"STUDIO_ENVIRONMENTS_INDEX_URL={ENVIRONMENTS_INDEX_URL!r}: use an http(s):// URL.")

CELERY_BEAT_SCHEDULE["job-sweeper"] = {
    "task": "tracking.tasks.sweep_jobs",
    "schedule": float(max(JOB_SWEEP_SECONDS, 1)),
}

# --- Deletions (resource groups, workspaces, experiments, runs) ---------------------------------

# A deletion removes the runs of a chunk (their files, then their rows) in one transaction, and
# metric points in batches of this many, reporting progress between them.
DELETION_CHUNK_RUNS = env_int("STUDIO_DELETION_CHUNK_RUNS", 200)
DELETION_CHUNK_POINTS = env_int("STUDIO_DELETION_CHUNK_POINTS", 50_000)
DELETION_STALE_SECONDS = env_int("STUDIO_DELETION_STALE_SECONDS", 120)
DELETION_SWEEP_SECONDS = env_int("STUDIO_DELETION_SWEEP_SECONDS", 60)
# How often a worker measures each workspace's artifact storage (the home page shows it).
STORAGE_MEASURE_SECONDS = env_int("STUDIO_STORAGE_MEASURE_SECONDS", 600)
CELERY_BEAT_SCHEDULE["storage-measure"] = {
    "task": "tracking.tasks.measure_storage",
    "schedule": float(max(STORAGE_MEASURE_SECONDS, 1)),
}
CELERY_BEAT_SCHEDULE["deletion-sweeper"] = {
    "task": "tracking.tasks.sweep_deletions",
    "schedule": float(max(DELETION_SWEEP_SECONDS, 1)),
}

# --- Alerts -------------------------------------------------------------------------------------

# How often a worker evaluates every enabled alert rule and delivers what fired to webhooks.
ALERTS_EVERY_SECONDS = env_int("STUDIO_ALERTS_EVERY_SECONDS", 30)
# Webhooks on loopback or private addresses (a chat server inside the network); link-local
# (cloud metadata) and multicast addresses stay refused.
ALERTS_ALLOW_PRIVATE_WEBHOOKS = env_bool("STUDIO_ALERTS_ALLOW_PRIVATE_WEBHOOKS", False)
ALERTS_WEBHOOK_TIMEOUT_SECONDS = float(env_int("STUDIO_ALERTS_WEBHOOK_TIMEOUT_SECONDS", 5))
# A delivery that fails is tried this many times in all, waiting RETRY_SECONDS, then twice that...
ALERTS_WEBHOOK_ATTEMPTS = env_int("STUDIO_ALERTS_WEBHOOK_ATTEMPTS", 4)
ALERTS_WEBHOOK_RETRY_SECONDS = env_int("STUDIO_ALERTS_WEBHOOK_RETRY_SECONDS", 30)
if ALERTS_WEBHOOK_ATTEMPTS < 1 or ALERTS_WEBHOOK_TIMEOUT_SECONDS < 1 or ALERTS_WEBHOOK_RETRY_SECONDS < 0:
    CONFIG_ERRORS.append(
        "STUDIO_ALERTS_WEBHOOK_ATTEMPTS and STUDIO_ALERTS_WEBHOOK_TIMEOUT_SECONDS must be at least 1, "
        "STUDIO_ALERTS_WEBHOOK_RETRY_SECONDS at least 0."
    )
CELERY_BEAT_SCHEDULE["alerts"] = {
    "task": "tracking.tasks.evaluate_alerts",
    "schedule": float(max(ALERTS_EVERY_SECONDS, 1)),
    # A pass that waited longer than the interval is dropped: the next one does its work.
    "options": {"expires": float(max(ALERTS_EVERY_SECONDS, 1))},
}

# --- Cache -------------------------------------------------------------------------------------

# Shared by every web process and the worker (chart buckets of long histories, log-in throttling):
# Redis when STUDIO_CACHE_URL names one, else files under the data folder.
CACHE_URL = env_str("STUDIO_CACHE_URL")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL:
    CONFIG_ERRORS.append(f"STUDIO_CACHE_URL={CACHE_URL!r}: use a redis:// URL, or leave it unset for files.")
if not CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }

# --- Tracking ----------------------------------------------------------------------------------

# Largest request body the tracking API accepts (MLflow's own limit for log-batch is 1 MB;
# experiment/run tags can be larger, so leave room).
TRACKING_MAX_REQUEST_BYTES = env_int("STUDIO_MAX_REQUEST_BYTES", 16 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = TRACKING_MAX_REQUEST_BYTES
# A query string is bounded by gunicorn's request line (16 KiB), so at most about 8,000 fields;
# Django's default of 1,000 answered MLflow's 1,000-run requests with an HTML page, not its error.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# Most records one upsert into an evaluation dataset may carry (MLflow's client sends a whole
# merge_records() in one request): each is checked and written in the request.
DATASET_MAX_RECORDS_PER_UPSERT = env_int("STUDIO_MAX_DATASET_RECORDS_PER_UPSERT", 10_000)
# Largest single artifact file an upload may write (413 beyond); uploads stream to disk.
ARTIFACT_MAX_UPLOAD_BYTES = env_int("STUDIO_MAX_ARTIFACT_BYTES", 50 * 1024**3)
# On an object store (S3), downloads go straight to the store: the server answers with a redirect
# to a signed URL valid this many seconds, and spends no memory or thread on the bytes. Off, every
# download streams through the server, as from local disk.
ARTIFACT_PRESIGNED_DOWNLOADS = env_bool("STUDIO_ARTIFACT_PRESIGNED_DOWNLOADS", True)
ARTIFACT_PRESIGNED_SECONDS = env_int("STUDIO_ARTIFACT_PRESIGNED_SECONDS", 300)

# --- People, roles and tokens --------------------------------------------------------------------

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
LISTENS_ON_LOOPBACK_ONLY = STUDIO_HOST in _LOOPBACK_HOSTS or STUDIO_HOST.startswith("127.")
# Local mode (a laptop, 127.0.0.1): anonymous requests may use every workspace, as `mlflow server`
# allows. Listening beyond loopback, or STUDIO_REQUIRE_AUTH=true, makes every request authenticate.
STUDIO_REQUIRE_AUTH = env_bool("STUDIO_REQUIRE_AUTH", not LISTENS_ON_LOOPBACK_ONLY)
# Short-lived workspace tracking tokens (what the SDK fetches with a personal access token).
TRACKING_TOKEN_SECONDS = env_int("STUDIO_TRACKING_TOKEN_SECONDS", 3600)
PERSONAL_TOKEN_DAYS = env_int("STUDIO_PERSONAL_TOKEN_DAYS", 90)
# Every personal token expires: none may be made for longer than this.
PERSONAL_TOKEN_MAX_DAYS = env_int("STUDIO_PERSONAL_TOKEN_MAX_DAYS", 365)
if not 1 <= PERSONAL_TOKEN_DAYS <= PERSONAL_TOKEN_MAX_DAYS:
    CONFIG_ERRORS.append(
        f"STUDIO_PERSONAL_TOKEN_DAYS={PERSONAL_TOKEN_DAYS} must be between 1 and STUDIO_PERSONAL_TOKEN_MAX_DAYS "
        f"({PERSONAL_TOKEN_MAX_DAYS})."
    )
# Token and membership look-ups are cached per process this long; a revocation reaches other
# processes within it.
ACCESS_CACHE_SECONDS = float(env_int("STUDIO_ACCESS_CACHE_SECONDS", 5))
# How long a process keeps an experiment's trace charts while its traces' range and number hold
# (tracking.queries.trace_metrics.trace_metrics_overview).
TRACE_METRICS_CACHE_SECONDS = float(env_int("STUDIO_TRACE_METRICS_CACHE_SECONDS", 15))
# Log-in throttling: this many failures per user name and address, then a pause of the window.
LOGIN_MAX_FAILURES = env_int("STUDIO_LOGIN_MAX_FAILURES", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("STUDIO_LOGIN_FAILURE_WINDOW_SECONDS", 900)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Behind a reverse proxy that terminates HTTPS (and says so in X-Forwarded-Proto and -Host):
# requests count as secure, cookies are Secure and browsers are told to keep to HTTPS (HSTS).
# Off by default: without such a proxy, a client could claim HTTPS with a header.
TRUST_PROXY_HEADERS = env_bool("STUDIO_TRUST_PROXY_HEADERS", False)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SECURE_HSTS_SECONDS = env_int("STUDIO_HSTS_SECONDS", 365 * 24 * 3600 if TRUST_PROXY_HEADERS else 0)
_SECURE_COOKIES = env_bool("STUDIO_SECURE_COOKIES", not LISTENS_ON_LOOPBACK_ONLY or TRUST_PROXY_HEADERS)
SESSION_COOKIE_SECURE = _SECURE_COOKIES
CSRF_COOKIE_SECURE = _SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

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
    "loggers": {
        "django.request": {"level": "ERROR"},
        # The Azure SDK logs every request and response at INFO: a dozen lines per artifact.
        "azure": {"level": "WARNING"},
    },
}
