"""The job's sandbox: how the worker starts a job's command, behind one small interface.

The job's author is taken to be a hostile Contributor of one workspace. Runners, by kind, in one
registry (`SANDBOXES`):

- `bubblewrap`: the command runs under Debian's `bwrap` in new user, mount, PID, IPC and UTS
  namespaces, as an unprivileged user inside (uid 1000) and, when the worker is root, as
  STUDIO_JOB_UID outside. It sees the system's programs and libraries read-only (/usr, a few files
  of /etc), its own folder read-write at /job, its environment read-only at /env, a private /tmp,
  a fresh /proc of its own PID namespace and a minimal /dev. Nothing else of the host exists for
  it: not the data folder, the database, the secret key, other jobs' folders, the artifact root,
  the server's source or site-packages (masked even where they sit under /usr, as in the Docker
  image). The PID namespace's first process is bubblewrap's; when the command ends, or the worker
  kills it (cancel, time limit), or the worker itself dies (`--die-with-parent`), the kernel kills
  everything left in the namespace, daemons and `setsid` children included. The network is shared:
  the job's MLflow client must reach the server.
- `unsandboxed`: as before the sandbox existed: the worker's own user, its own process group.
  Used only where no sandbox can be made (macOS, no bwrap), in local mode or when the operator
  says so (STUDIO_JOBS_UNSANDBOXED).

Both apply the same limits (`Limits`) through the shell's `ulimit` before the command starts:
address space (memory), open files, the size of any file written, no core dumps, and, in the
sandbox, processes. The process limit is set inside the user namespace, where the kernel counts
only this job's processes (the namespace's own user), so it neither counts the worker's nor
exempts a job whose worker is root.

`current_sandbox()` is the runner STUDIO_JOBS_SANDBOX chooses; `sandbox_status()` says whether
jobs are sandboxed, why not, and whether jobs are refused because of it.
"""

from __future__ import annotations

import functools
import os
import resource
import shlex
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

# Where the job sees its folder and its environment inside the sandbox.
JOB_HOME = "/job"
ENV_MOUNT = "/env"
INSIDE_UID = 1000
# Files of /etc a program needs (name resolution, certificates, the dynamic linker, time zones).
ETC_FILES = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "gai.conf",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "pki",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
    "timezone",
)
# Top-level folders that are links into /usr on merged-/usr systems (or folders elsewhere).
SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# An exit status of the command killed by signal N comes back from bwrap as 128 + N.
_SIGNAL_BASE = 128


@dataclass(frozen=True)
class Limits:
    """What one job may use; `ulimit` applies them to the job's shell and everything it starts."""

    memory_mb: int
    processes: int
    open_files: int
    file_bytes: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            memory_mb=settings.JOB_MEMORY_MB,
            processes=settings.JOB_MAX_PROCESSES,
            open_files=settings.JOB_MAX_OPEN_FILES,
            file_bytes=settings.JOB_MAX_FILE_BYTES,
        )

    def ulimit(self, *, processes: bool) -> str:
        """The shell's `ulimit` command setting these limits, soft and hard (the job cannot raise
        them); each is capped at the worker's own hard limit, which an unprivileged shell cannot pass."""
        values = [
            ("-c", resource.RLIMIT_CORE, 0, 1),
            ("-v", resource.RLIMIT_AS, self.memory_mb * 1024, 1024),
            ("-n", resource.RLIMIT_NOFILE, self.open_files, 1),
            ("-f", resource.RLIMIT_FSIZE, self.file_bytes // 1024, 1024),
        ]
        if processes:
            values.append(("-u", resource.RLIMIT_NPROC, self.processes, 1))
        words = ["ulimit"]
        for flag, limit, value, unit in values:
            hard = resource.getrlimit(limit)[1]
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard // unit)
            words += [flag, str(value)]
        return " ".join(words)


@dataclass(frozen=True)
class Request:
    """What to start: the command, in the job's folder, with its environment (a virtualenv folder,
    or None for the system's programs only) and the variables it may see (`job_environment`)."""

    command: str
    work: Path
    environment: Path | None
    variables: dict[str, str]
    limits: Limits


@dataclass
class Launch:
    """How to start it: `subprocess.Popen(argv, cwd=cwd, env=env, user=user, group=group,
    pass_fds=pass_fds)`; `close_fds_after` are the parent's copies, closed once it has started."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    user: int | None = None
    group: int | None = None
    pass_fds: tuple[int, ...] = ()
    close_fds_after: list[int] = field(default_factory=list)

    def close(self) -> None:
        for fd in self.close_fds_after:
            os.close(fd)
        self.close_fds_after.clear()


class Sandbox:
    """A way of starting a job's command. Subclasses register under a kind in SANDBOXES."""

    kind = ""
    sandboxed = False

    def unavailable(self) -> str:
        """Why this runner cannot be used on this machine ('' when it can)."""
        return ""

    def launch(self, request: Request) -> Launch:
        raise NotImplementedError

    def exit_code(self, returncode: int) -> int:
        """The command's exit code as `subprocess` reports a direct child's: -N when killed by signal N."""
        return returncode

    def prepare_folder(self, work: Path) -> None:
        """Makes the job's folder the job's own before it starts (owner, permissions)."""


SANDBOXES: dict[str, type[Sandbox]] = {}


def register(kind: str):
    def add(cls: type[Sandbox]) -> type[Sandbox]:
        cls.kind = kind
        SANDBOXES[kind] = cls
        return cls

    return add


def _shell() -> str:
    return shutil.which("bash") or "/bin/sh"


def _limited(limits: Limits, *, processes: bool, shell: str) -> list[str]:
    """`shell -c 'ulimit ...; exec shell -c "$1"' studio-job COMMAND`: the limits first, then the command."""
    prologue = f'{limits.ulimit(processes=processes)} || exit 125; exec {shlex.quote(shell)} -c "$1"'
    return ["-c", prologue, "studio-job"]


@register("unsandboxed")
class Unsandboxed(Sandbox):
    sandboxed = False

    def launch(self, request: Request) -> Launch:
        env = dict(request.variables)
        path = os.environ.get("PATH", os.defpath)
        if request.environment is not None:
            env["VIRTUAL_ENV"] = str(request.environment)
            path = os.pathsep.join([str(request.environment / "bin"), path])
        env["PATH"] = path
        shell = _shell()
        # No process limit: it would count every process of the worker's own user.
        argv = [shell, *_limited(request.limits, processes=False, shell=shell), request.command]
        return Launch(argv=argv, cwd=request.work, env=env)


@register("bubblewrap")
class Bubblewrap(Sandbox):
    sandboxed = True

    def __init__(self, program: str | None = None) -> None:
        self.program = program or settings.JOBS_BWRAP

    def unavailable(self) -> str:
        return _bubblewrap_unavailable(self.program, *self._outer_ids())

    def _outer_ids(self) -> tuple[int | None, int | None]:
        """The unprivileged user the sandbox runs as outside, when the worker is root."""
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            return settings.JOB_UID, settings.JOB_GID
        return None, None

    def prepare_folder(self, work: Path) -> None:
        uid, gid = self._outer_ids()
        if uid is None:
            return
        for folder, dirs, files in os.walk(work):
            os.chown(folder, uid, gid, follow_symlinks=False)
            for name in (*dirs, *files):
                os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)

    def exit_code(self, returncode: int) -> int:
        if _SIGNAL_BASE < returncode <= _SIGNAL_BASE + 64:
            return -(returncode - _SIGNAL_BASE)
        return returncode

    def launch(self, request: Request) -> Launch:
        uid, gid = self._outer_ids()
        tmp_bytes = str(max(request.limits.memory_mb, 64) * 1024 * 1024)
        passwd = _memfd(
            "passwd",
            f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
            f"job:x:{INSIDE_UID}:{INSIDE_UID}:studio job:{JOB_HOME}:/bin/bash\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        )
        group = _memfd("group", f"root:x:0:\njob:x:{INSIDE_UID}:\nnogroup:x:65534:\n")
        argv = [
            self.program,
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--uid",
            str(INSIDE_UID),
            "--gid",
            str(INSIDE_UID),
            "--hostname",
            "studio-job",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for name in SYSTEM_DIRS:
            host = Path("/") / name
            if host.is_symlink():
                argv += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                argv += ["--ro-bind", str(host), str(host)]
        for name in ETC_FILES:
            argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        argv += ["--ro-bind-data", str(passwd), "/etc/passwd", "--ro-bind-data", str(group), "/etc/group"]
        binds = ["/usr", *(f"/{name}" for name in SYSTEM_DIRS), *(f"/etc/{name}" for name in ETC_FILES)]
        interpreter = _interpreter_prefix(request.environment)
        if interpreter is not None and not _under_any(interpreter, binds):
            argv += ["--ro-bind", str(interpreter), str(interpreter)]
            binds.append(str(interpreter))
        argv += [
            "--ro-bind-try",
            "/sys/devices/system/cpu",
            "/sys/devices/system/cpu",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            tmp_bytes,
            "--tmpfs",
            "/dev/shm",
            "--size",
            tmp_bytes,
            "--tmpfs",
            "/tmp",
            "--bind",
            str(request.work),
            JOB_HOME,
        ]
        if request.environment is not None:
            argv += ["--ro-bind", str(request.environment), ENV_MOUNT]
        argv += _masks(binds)
        # The sandbox's own root (where /etc's few files are mounted) read-only too: the job writes
        # only to its folder, /tmp and /dev/shm.
        argv += ["--remount-ro", "/", "--chdir", JOB_HOME, "--"]
        shell = "/bin/bash" if Path("/bin/bash").exists() else "/bin/sh"
        argv += [shell, *_limited(request.limits, processes=True, shell=shell), request.command]
        env = dict(request.variables)
        env.update(HOME=JOB_HOME, USER="job", LOGNAME="job", TMPDIR="/tmp")
        path = "/usr/local/bin:/usr/bin:/bin"
        if request.environment is not None:
            env["VIRTUAL_ENV"] = ENV_MOUNT
            path = f"{ENV_MOUNT}/bin:{path}"
        env["PATH"] = path
        return Launch(
            argv=argv,
            cwd=request.work,
            env=env,
            user=uid,
            group=gid,
            pass_fds=(passwd, group),
            close_fds_after=[passwd, group],
        )


def _memfd(name: str, text: str) -> int:
    fd = os.memfd_create(name, 0)
    os.write(fd, text.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _interpreter_prefix(environment: Path | None) -> Path | None:
    """The installation of the environment's base Python (its `home` in pyvenv.cfg, one up)."""
    if environment is None:
        return None
    try:
        lines = (environment / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return Path(value.strip()).resolve().parent
    return None


def _under_any(path: Path | str, folders: list[str]) -> bool:
    path = Path(path)
    return any(path == Path(folder) or Path(folder) in path.parents for folder in folders)


def hidden_paths() -> list[Path]:
    """What of the server must never be visible to a job, even where it lies under a folder the
    sandbox shows (the server pip-installed into /usr/local, a data folder under /usr/...)."""
    paths = [
        Path(settings.BASE_DIR),
        Path(settings.DATA_DIR),
        *([Path(settings.ARTIFACT_ROOT)] if isinstance(settings.ARTIFACT_ROOT, Path) else []),
        Path(settings.JOBS_DIR),
        Path(settings.IMPORTS_DIR),
        Path(settings.ENVIRONMENTS_DIR),
        *(Path(folder) for folder in site.getsitepackages()),
    ]
    if sys.prefix != sys.base_prefix:  # the server's virtualenv
        paths.append(Path(sys.prefix))
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        paths.append(Path(database["NAME"]))
    user_site = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    if user_site:
        paths.append(Path(user_site))
    return [path.resolve() for path in paths]


def _masks(binds: list[str]) -> list[str]:
    """bwrap options hiding every `hidden_paths()` entry that lies under a bound folder: an empty
    tmpfs over a folder, /dev/null over a file."""
    options: list[str] = []
    for path in sorted(set(hidden_paths())):
        if not _under_any(path, binds) or not path.exists():
            continue
        if path.is_dir():
            options += ["--tmpfs", str(path)]
        else:
            options += ["--ro-bind", "/dev/null", str(path)]
    return options


@functools.lru_cache(maxsize=8)
def _bubblewrap_unavailable(program: str, uid: int | None, gid: int | None) -> str:
    """'' if bwrap starts a sandbox here (as the job's outer user); else why it cannot."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux; this is {sys.platform}."
    found = shutil.which(program)
    if found is None:
        return f"bubblewrap is not installed ({program} not found; apt-get install bubblewrap)."
    try:
        done = subprocess.run(
            [found, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
             "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--", "/bin/sh", "-c", "true"],
            capture_output=True, text=True, timeout=20, user=uid, group=gid,
            extra_groups=[] if uid is not None else None,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        return f"bubblewrap cannot be started: {error}."
    if done.returncode != 0:
        return f"bubblewrap cannot make a sandbox here: {done.stderr.strip()[:300] or done.returncode}."
    return ""


def current_sandbox() -> Sandbox:
    """The runner STUDIO_JOBS_SANDBOX chooses: 'auto' is bubblewrap where it works."""
    choice = settings.JOBS_SANDBOX
    if choice == "none":
        return Unsandboxed()
    sandbox = Bubblewrap()
    if choice == "bubblewrap" or not sandbox.unavailable():
        return sandbox
    return Unsandboxed()


@dataclass(frozen=True)
class SandboxStatus:
    kind: str
    sandboxed: bool
    reason: str  # why jobs are not sandboxed ('' when they are)
    refused: bool  # jobs are refused: sign-in required, no sandbox, and not allowed without one

    @property
    def message(self) -> str:
        if self.sandboxed:
            return ""
        if self.refused:
            return (
                f"Jobs are refused: they cannot be sandboxed on this server ({self.reason}) and sign-in is "
                "required. Install bubblewrap, or set STUDIO_JOBS_UNSANDBOXED=true to run them as the "
                "worker's user."
            )
        return (
            f"Jobs run without a sandbox ({self.reason}): a job can read and change everything the "
            "worker's user can."
        )


def sandbox_status() -> SandboxStatus:
    """Whether jobs run sandboxed on this machine, why not, and whether they are refused."""
    none = settings.JOBS_SANDBOX == "none"
    reason = "STUDIO_JOBS_SANDBOX=none" if none else Bubblewrap().unavailable()
    sandboxed = not reason
    refused = not sandboxed and settings.STUDIO_REQUIRE_AUTH and not settings.JOBS_UNSANDBOXED
    return SandboxStatus(
        kind="bubblewrap" if sandboxed else "unsandboxed", sandboxed=sandboxed, reason=reason, refused=refused
    )
