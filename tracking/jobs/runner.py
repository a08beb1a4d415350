"""The worker's side of a job: run its command in a subprocess and capture what it prints.

1. Claim the job (a job whose worker died is failed, not run again: see services.jobs).
2. Unpack the snapshot into a clean working folder (zip slip, links out, devices: refused) and
   store its files as the job's Snapshot.
3. Resolve the command (an MLproject entry point becomes its command, its parameters the run's).
4. Get the job's own Python environment (`environments`: the one submitted, the snapshot's, or
   the default with mlflow-skinny), built by uv if it is not cached, its output in the job's.
5. Start the command in the sandbox (`sandbox`: bubblewrap namespaces and limits), in its own
   process group, with MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID set
   (`job_environment`), so `mlflow.start_run()` attaches to the run.
6. While it runs: read its output line by line into a local file (up to JOB_MAX_OUTPUT_BYTES;
   the rest is counted), copy that file to the run's `logs/std_log.txt` every
   JOB_LOG_FLUSH_SECONDS, beat the heartbeat every second, and kill the process group when the
   job is cancelled (the heartbeat finds the row CANCELLED) or its time limit passes.
7. The exit code decides: 0 is FINISHED, anything else FAILED (over its memory limit: saying so),
   a cancel KILLED; the run gets that status whatever the script's own `mlflow.end_run()` said,
   as `mlflow run` does.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

from tracking.access.tokens import issue_job_token, refresh_job_token, revoke_token
from tracking.errors import MlflowError
from tracking.ingest.archives import ArchiveRefused, unpack
from tracking.jobs.environments import EnvironmentFailed, Lease, prepare_environment
from tracking.jobs.projects import ProjectError, project_command
from tracking.jobs.sandbox import Limits, Request, Sandbox, current_sandbox, sandbox_status
from tracking.models import Job, Run, Workspace
from tracking.models.work import CANCELLED, LostClaim
from tracking.queries.jobs import log_artifact_path
from tracking.services.artifacts import save_artifact
from tracking.services.jobs import end_run, snapshot_folder
from tracking.services.runs import Batch, log_batch, update_run
from tracking.staging import discard, local_copy

logger = logging.getLogger(__name__)

BEAT_SECONDS = 1.0
POLL_SECONDS = 0.1
KILL_GRACE_SECONDS = 5.0
MAX_LINE_BYTES = 64 * 1024
TAIL_LINES = 20
# Variables of the worker's environment a job inherits (besides JOB_ENV_PASSTHROUGH).
INHERITED = ("HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM")
_PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
# What a process over its address-space limit says as it fails (Python, C++, glibc, numpy, bash).
_OUT_OF_MEMORY = re.compile(
    rb"MemoryError|std::bad_alloc|Cannot allocate memory|[Oo]ut of memory|Unable to allocate|xmalloc: cannot"
)


# Linux's prctl, looked up now: the child calls it between fork and exec, where nothing may be imported.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_the_worker() -> None:
    """In the job's process before exec: the kernel kills it if the worker goes (killed, or out of
    memory), so no orphan keeps logging to a run the sweeper has failed."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


class JobError(Exception):
    """Why the job could not run; the message goes on the row and at the end of its output."""


def worker_name(hostname: str = "") -> str:
    return f"{hostname or 'worker'}:{os.getpid()}:{threading.get_ident()}"


def tracking_uri(workspace: Workspace) -> str:
    return f"{settings.SERVER_URL}/ws/{workspace.name}"


def job_environment(job: Job, run: Run) -> dict[str, str]:
    """Everything the job's process sees in its environment, built here and only here: an allow-list.

    Nothing of the worker's own configuration (DATABASE_URL, the secret key, broker URLs) is
    passed on. PATH and VIRTUAL_ENV (the job's own environment first) are added by the sandbox,
    which knows where the environment is seen from; the job's own access token by the Execution,
    which keeps it alive.
    """
    env = {
        name: os.environ[name] for name in (*INHERITED, *settings.JOB_ENV_PASSTHROUGH) if name in os.environ
    }
    env["PYTHONUNBUFFERED"] = "1"  # print() reaches the log as it happens, not at exit
    env["MLFLOW_TRACKING_URI"] = tracking_uri(job.workspace)
    env["MLFLOW_RUN_ID"] = run.uuid
    env["MLFLOW_EXPERIMENT_ID"] = str(job.experiment.number)
    env["STUDIO_JOB_ID"] = str(job.pk)
    return env


# --- Capturing output ----------------------------------------------------------------------------


class Output:
    """The job's output in a local file, capped; read from the pipe by a thread of its own."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit = path, limit
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.kept = self.dropped = self.lines = 0
        self.tail: collections.deque[bytes] = collections.deque(maxlen=TAIL_LINES)
        self.lock = threading.Lock()
        self.version = 0  # bumped at every write, so the flusher knows when to copy

    def pump(self, pipe) -> None:
        for line in iter(lambda: pipe.readline(MAX_LINE_BYTES), b""):
            self.lines += 1
            if line.strip():
                self.tail.append(line)
            self._write(line)
        pipe.close()

    def _write(self, data: bytes) -> None:
        with self.lock:
            room = self.limit - self.kept
            if len(data) <= room:
                self.file.write(data)
                self.file.flush()
                self.kept += len(data)
                self.version += 1
                return
            if self.dropped == 0:
                self.file.write(data[: max(room, 0)])
                self.file.write(
                    f"\n[studio] Output truncated: only the first {self.limit} bytes are kept "
                    "(STUDIO_JOB_MAX_OUTPUT_BYTES); the job goes on.\n".encode()
                )
                self.file.flush()
                self.kept += max(room, 0)
                self.version += 1
            self.dropped += len(data) - max(room, 0)

    def note(self, text: str) -> None:
        """A line of the studio's own at the end of the log (not counted against the cap)."""
        with self.lock:
            self.file.write(f"[studio] {text}\n".encode())
            self.file.flush()
            self.version += 1

    def last_line(self) -> str:
        return self.tail[-1].decode("utf-8", "replace").strip()[:500] if self.tail else ""

    def close(self) -> None:
        self.file.close()


class Flusher:
    """Copies the local log to the run's logs/std_log.txt when it changed, at most every `every` s.

    The whole file is written each time, atomically: readers never see half a copy, and the
    same works on stores that cannot append (object stores). The cap keeps it small.
    """

    def __init__(self, output: Output, workspace: Workspace, path: str | None, every: float) -> None:
        self.output, self.workspace, self.path, self.every = output, workspace, path, every
        self.copied_version = 0
        self.last = 0.0

    def maybe(self, *, force: bool = False) -> None:
        if self.path is None or self.output.version == self.copied_version:
            return
        if not force and time.monotonic() - self.last < self.every:
            return
        version = self.output.version
        with open(self.output.path, "rb") as handle:
            save_artifact(workspace=self.workspace, path=self.path, stream=handle)
        self.copied_version, self.last = version, time.monotonic()


# --- The run ---------------------------------------------------------------------------------------


def run_job(job_id: int, *, worker: str) -> None:
    """Claims the job and carries it through to its end; a no-op if it is not claimable."""
    job = Job.claim(job_id, worker)
    if job is None:
        return
    job = Job.objects.select_related("workspace", "experiment", "run").get(pk=job.pk)
    if job.attempts > 1:
        # Claimed before, by a worker that went silent: its processes may have run half-way.
        try:
            job.fail("The worker running this job stopped before it ended; submit it again.")
        except LostClaim:
            return
        end_run(job.run, "FAILED")
        return
    Execution(job).carry_out()


class Execution:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.run = job.run
        self.work = Path(settings.JOBS_DIR) / "work" / str(job.pk)
        self.output = Output(
            Path(settings.JOBS_DIR) / "logs" / f"{job.pk}.log", settings.JOB_MAX_OUTPUT_BYTES
        )
        # With no run (deleted), the output has nowhere to go: the job fails before it starts.
        self.flusher = Flusher(
            self.output,
            job.workspace,
            log_artifact_path(self.run) if self.run else None,
            settings.JOB_LOG_FLUSH_SECONDS,
        )
        self.process: subprocess.Popen | None = None
        self.token_id: int | None = None
        self.sandbox: Sandbox = current_sandbox()
        self.lease: Lease | None = None

    def carry_out(self) -> None:
        job = self.job
        try:
            if self.run is None or not self.run.is_active:
                raise JobError("The job's run was deleted before the job started.")
            status = sandbox_status()
            if status.refused:
                raise JobError(status.message)
            self._prepare()
            command = self._command()
            self._check_script(command)
            self._environment()
            exit_code, why_stopped = self._execute(command)
            self._finish(exit_code, why_stopped)
        except LostClaim:
            self._cancelled(exit_code=None)
        except JobError as error:
            self._failed(str(error))
        except Exception as error:
            logger.exception("job %s failed in the worker", job.pk)
            self._failed(f"The worker failed running the job: {type(error).__name__}: {error}")
        finally:
            self._kill_group()
            if self.lease is not None:
                self.lease.release()
            self._revoke_token()
            self.output.close()
            shutil.rmtree(self.work, ignore_errors=True)
            self.output.path.unlink(missing_ok=True)

    # 2. The snapshot

    def _prepare(self) -> None:
        job = self.job
        job.report(stage="unpacking the snapshot")
        missing = JobError("The job's snapshot is missing (it was deleted, or never finished uploading).")
        if not job.snapshot_path:
            raise missing
        try:
            # A snapshot staged in the object store comes to this worker's disk for the unpacking.
            with local_copy(job.snapshot_path, self.work.parent) as snapshot:
                if not snapshot.is_file():
                    raise missing
                self._check_unpacked_size(snapshot)
                try:
                    unpack(snapshot, self.work, beat=job.beat)
                except ArchiveRefused as error:
                    raise JobError(f"The snapshot was refused: {error}") from None
        except FileNotFoundError:
            raise missing from None
        job.report(stage="storing the snapshot")
        files = 0
        folder = snapshot_folder(job)
        last_beat = time.monotonic()
        for path in sorted(self.work.rglob("*")):
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as handle:
                    save_artifact(
                        workspace=job.workspace,
                        path=f"{folder}/{path.relative_to(self.work).as_posix()}",
                        stream=handle,
                    )
                files += 1
                if time.monotonic() - last_beat > BEAT_SECONDS:
                    job.beat()
                    last_beat = time.monotonic()
        kept = job.snapshot_path
        job.report(snapshot_files=files, snapshot_path="")
        discard(kept)
        self.sandbox.prepare_folder(self.work)

    def _check_unpacked_size(self, snapshot: Path) -> None:
        """Refuses a zip that would unpack to more than JOB_MAX_UNPACKED_BYTES (a zip bomb).

        The sizes are the ones the zip declares; zipfile never reads past them.
        """
        try:
            with zipfile.ZipFile(snapshot) as archive:
                total = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError) as error:
            raise JobError(f"The snapshot was refused: it is not a readable .zip ({error}).") from None
        if total > settings.JOB_MAX_UNPACKED_BYTES:
            raise JobError(
                f"The snapshot was refused: it unpacks to {total} bytes; at most "
                f"{settings.JOB_MAX_UNPACKED_BYTES} are accepted (STUDIO_JOB_MAX_UNPACKED_BYTES)."
            )

    # 3. The command

    def _command(self) -> str:
        job = self.job
        if job.kind != Job.PROJECT:
            return job.command
        try:
            command, values = project_command(self.work, job.entry_point, job.parameters)
        except ProjectError as error:
            raise JobError(str(error)) from None
        if values:
            log_batch(run=self.run, batch=Batch(params=[(k, v[:6000]) for k, v in values.items()]))
        job.report(command=command)
        return command

    def _check_script(self, command: str) -> None:
        """A `python x.py` whose x.py is not in the snapshot fails here, saying so, not as a traceback."""
        try:
            words = shlex.split(command)
        except ValueError as error:
            raise JobError(f"The command cannot be parsed: {error}.") from None
        if len(words) >= 2 and (_PYTHON.match(words[0]) or words[0] in ("bash", "sh")):
            script = words[1]
            if script.startswith("-") or not script.endswith((".py", ".sh")):
                return
            if not (self.work / script).is_file():
                present = sorted(p.name for p in self.work.iterdir())[:20]
                raise JobError(
                    f"The script {script} is not in the snapshot (its top folder holds: "
                    f"{', '.join(present) or 'nothing'})."
                )

    # 4. The environment

    def _environment(self) -> None:
        self.job.report(stage="preparing the environment")
        try:
            self.lease = prepare_environment(
                self.job,
                self.work,
                output=self.output,
                beat=self.job.beat,
                outer_user_differs=self.sandbox.sandboxed and os.geteuid() == 0,
            )
        except EnvironmentFailed as error:
            raise JobError(str(error)) from None
        self.flusher.maybe(force=True)

    # 5.-6. Running it

    def _execute(self, command: str) -> tuple[int, str]:
        job, run = self.job, self.run
        variables = job_environment(job, run)
        variables["MLFLOW_TRACKING_TOKEN"] = self._token()
        launch = self.sandbox.launch(
            Request(
                command=command,
                work=self.work,
                environment=self.lease.folder if self.lease else None,
                variables=variables,
                limits=Limits.from_settings(),
            )
        )
        try:
            self.process = subprocess.Popen(
                launch.argv,
                cwd=launch.cwd,
                env=launch.env,
                user=launch.user,
                group=launch.group,
                extra_groups=[] if launch.user is not None else None,
                pass_fds=launch.pass_fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
                preexec_fn=_die_with_the_worker,  # one prctl call: safe beside threads
            )
        except OSError as error:
            raise JobError(f"The command could not be started: {error}.") from None
        finally:
            launch.close()
        reader = threading.Thread(target=self.output.pump, args=(self.process.stdout,), daemon=True)
        reader.start()
        try:
            update_run(run=run, status="RUNNING")
        except MlflowError as error:  # deleted a moment ago: the job still runs to its end
            logger.info("job %s: run %s not marked RUNNING: %s", job.pk, run.uuid, error.message)
        job.report(stage="running")
        started = time.monotonic()
        last_beat = last_token = started
        # A tracking token lives an hour by default: renewed well before, for as long as the job runs.
        token_refresh = max(settings.TRACKING_TOKEN_SECONDS / 4, POLL_SECONDS)
        why_stopped = ""
        self.elapsed = 0.0
        while self.process.poll() is None:
            time.sleep(POLL_SECONDS)
            now = time.monotonic()
            if now - started > job.time_limit and not why_stopped:
                why_stopped = "time limit"
                self._kill_group(grace=KILL_GRACE_SECONDS)
            if now - last_token >= token_refresh:
                last_token = now
                refresh_job_token(self.token_id)
            if now - last_beat >= BEAT_SECONDS:
                last_beat = now
                try:
                    job.report(
                        done=self.output.lines,
                        output_bytes=self.output.kept,
                        output_dropped=self.output.dropped,
                    )
                except LostClaim:
                    self._kill_group(grace=KILL_GRACE_SECONDS)
                    reader.join(timeout=5)
                    raise
            self.flusher.maybe()
        self.elapsed = time.monotonic() - started
        self._kill_group()  # what it left running in the background goes with it
        self._revoke_token()  # before the row says the job ended: whoever sees it ended sees it revoked
        reader.join(timeout=5)
        return self.sandbox.exit_code(self.process.returncode), why_stopped

    def _token(self) -> str:
        """A token for the job's MLflow client: the submitter's rights, at most a Contributor's."""
        user = (
            get_user_model().objects.filter(username=self.job.submitted_by).first()
            if self.job.submitted_by
            else None
        )
        issued = issue_job_token(self.job.workspace, user, name=f"job {self.job.pk}")
        self.token_id = issued.token.pk
        return issued.secret

    def _revoke_token(self) -> None:
        if self.token_id is not None:
            revoke_token(self.token_id)
            self.token_id = None

    def _kill_group(self, grace: float = 0.0) -> None:
        process = self.process
        if process is None:
            return
        try:
            if grace and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=grace)
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.warning("job %s: process %s did not die", self.job.pk, process.pid)

    # 6. The outcome

    def _counts(self) -> dict:
        return {
            "done": self.output.lines,
            "output_bytes": self.output.kept,
            "output_dropped": self.output.dropped,
        }

    def _close_log(self, *notes: str) -> None:
        if self.output.dropped:
            self.output.note(f"{self.output.dropped} more bytes of output were not kept.")
        for note in notes:
            self.output.note(note)
        try:
            self.flusher.maybe(force=True)
        except Exception:
            logger.exception("job %s: the output could not be stored", self.job.pk)

    def _finish(self, exit_code: int, why_stopped: str) -> None:
        job = self.job
        elapsed = self.elapsed
        if why_stopped == "time limit":
            error = f"Stopped after its time limit of {job.time_limit} seconds."
            self._close_log(error)
            job.fail(error, exit_code=exit_code, **self._counts())
            end_run(self.run, "FAILED")
        elif exit_code == 0:
            self._close_log(f"The command exited with code 0 after {elapsed:.1f} s.")
            job.succeed(exit_code=0, stage="finished", **self._counts())
            end_run(self.run, "FINISHED")
        elif self.sandbox.sandboxed and self.output.last_line().startswith("bwrap: "):
            error = f"The job's sandbox could not be made: {self.output.last_line()[7:]}"
            self._close_log(error)
            job.fail(error, exit_code=exit_code, **self._counts())
            end_run(self.run, "FAILED")
        elif self._out_of_memory():
            error = (
                f"The job used more than its memory limit of {settings.JOB_MEMORY_MB} MB and was stopped "
                f"(STUDIO_JOB_MEMORY_MB). {_exit_message(exit_code)}"
            )
            self._close_log(error)
            job.fail(error, exit_code=exit_code, **self._counts())
            end_run(self.run, "FAILED")
        else:
            error = _exit_message(exit_code)
            last = self.output.last_line()
            self._close_log(error)
            job.fail(
                f"{error}{f' Last output: {last}' if last else ''}", exit_code=exit_code, **self._counts()
            )
            end_run(self.run, "FAILED")

    def _out_of_memory(self) -> bool:
        """Whether the command failed for want of memory: with the address space limited, an
        allocation past it fails, and what fails says so in its last lines."""
        return any(_OUT_OF_MEMORY.search(line) for line in list(self.output.tail)[-5:])

    def _failed(self, error: str) -> None:
        self._close_log(error)
        try:
            self.job.fail(error, **self._counts())
        except LostClaim:
            self._cancelled(exit_code=None)
            return
        end_run(self.run, "FAILED")

    def _cancelled(self, exit_code: int | None) -> None:
        process = self.process
        self._close_log("Cancelled: the job's processes were stopped.")
        code = exit_code if exit_code is not None else (process.returncode if process else None)
        Job.objects.filter(pk=self.job.pk).update(exit_code=code, **self._counts())
        if Job.objects.filter(pk=self.job.pk, status=CANCELLED).exists():
            end_run(self.run, "KILLED")


def _exit_message(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"The command was killed by {name}."
    if code == 127:
        return "The command exited with code 127: the program was not found."
    return f"The command exited with code {code}."
