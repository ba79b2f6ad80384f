"""Running code nobody has read: a bubblewrap sandbox, rlimits inside it, a wall clock outside.

`Sandbox.find()` checks that Debian's `bwrap` can start a sandbox on this machine (it needs
user namespaces) and raises `SandboxUnavailable` saying why not. `Sandbox.run(code)` then
runs the code with the system's Python (`/usr/bin/python3`, its standard library and nothing
of the project) in a sandbox that has:

- its own user, PID, network, IPC, UTS and cgroup namespaces (`--unshare-all`): the network
  is a loopback of its own, so 127.0.0.1:6379 is nobody's Redis; nested user namespaces are
  refused (`--disable-userns`);
- a root of its own: `/usr` read-only (`/bin`, `/lib`… as on the host, links into it), a new
  `/proc`, a minimal `/dev`, and a size-capped tmpfs at `/tmp` as the working directory,
  thrown away with the sandbox; no `/etc`, no `/home`, no project folder, nothing else;
- an empty environment (`--clearenv`): no secret, no setting reaches the code;
- a user that is not root: when the worker runs as root, bwrap itself is started as uid
  65534, so that the process limit holds (the kernel does not apply it to root);
- rlimits set before the code runs, hard ones it cannot raise: CPU seconds, address space,
  processes (counted in the sandbox's own user namespace), file size, open files, no core;
- outside: a wall-clock limit, and an output limit (stdout and stderr together); past either,
  the whole sandbox is SIGKILLed (bwrap's `--die-with-parent` takes the PID namespace, and
  every process the code forked, with it).
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

SANDBOX_UID = 65534  # "nobody": the uid bwrap runs as when the worker is root
PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")  # under /usr, which the sandbox sees
MAX_CODE_BYTES = 64 * 1024  # the code travels as one argument (the kernel takes 128 KiB)
POLL_S = 0.25
MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot start a sandbox here; the message says which."""


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 512 * 1024**2  # address space of each process
    processes: int = 8  # processes and threads, the interpreter itself included
    file_bytes: int = 8 * 1024**2  # the largest file it may write
    open_files: int = 64
    scratch_bytes: int = 64 * 1024**2  # the tmpfs at /tmp (and 1 MiB at /dev/shm)
    output_chars: int = 16_000


@dataclass
class Outcome:
    output: str  # stdout and stderr together, at most Limits.output_chars characters
    exit_code: int | None = None  # the code's exit status (None: killed by the sandbox's owner)
    signal: int | None = None  # the signal that ended the code, if one did
    timed_out: bool = False
    cancelled: bool = False
    cut: bool = False  # the output limit was reached and the code stopped there
    seconds: float = 0.0


# Runs inside the sandbox, before the code: the rlimits, then the code as __main__ in a scope
# of its own, then, as a notebook would, the repr of a last bare expression's value.
# Tracebacks leave this wrapper out.
BOOT = r"""
import ast, resource, sys, traceback
for name, soft, hard in {limits!r}:
    resource.setrlimit(getattr(resource, name), (soft, hard))
source = sys.argv.pop(1)
try:
    tree = ast.parse(source, "<python>")
except (SyntaxError, ValueError) as exc:
    sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
    sys.exit(1)
last = tree.body.pop().value if tree.body and isinstance(tree.body[-1], ast.Expr) else None
scope = {{"__name__": "__main__", "__builtins__": __builtins__}}
try:
    exec(compile(tree, "<python>", "exec"), scope)
    if last is not None:
        value = eval(compile(ast.Expression(last), "<python>", "eval"), scope)
        if value is not None:
            print(repr(value))
except SystemExit:
    raise
except BaseException as exc:
    traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
    sys.exit(1)
"""


def root_layout() -> list[str]:
    """`/usr` read-only, and each of /bin, /lib… as on the host: a link into /usr (merged
    /usr, Debian 12) or a read-only copy."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in MERGED_USR:
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


class Sandbox:
    def __init__(self, bwrap: str, python: str, limits: Limits = Limits()):
        self.bwrap, self.python, self.limits = bwrap, python, limits
        as_root = os.geteuid() == 0
        self.credentials = (dict(user=SANDBOX_UID, group=SANDBOX_UID, extra_groups=[])
                            if as_root else {})

    @classmethod
    def find(cls, limits: Limits = Limits(), bwrap: str | None = None) -> Sandbox:
        """A sandbox that has just run a probe, or SandboxUnavailable with the reason."""
        bwrap = bwrap or shutil.which("bwrap")
        if not bwrap or not os.access(bwrap, os.X_OK):
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        python = next((p for p in PYTHONS if os.access(p, os.X_OK)), None)
        if python is None:
            raise SandboxUnavailable(f"no Python interpreter under /usr for the sandbox ({', '.join(PYTHONS)})")
        sandbox = cls(bwrap, python, limits)
        try:
            probe = sandbox.run("print('sandbox ' + 'ready')")
        except OSError as exc:
            raise SandboxUnavailable(f"bubblewrap could not be started: {exc}") from None
        if probe.output != "sandbox ready\n" or probe.exit_code != 0:
            why = probe.output.strip()[:300] or f"exit status {probe.exit_code}"
            raise SandboxUnavailable(f"bubblewrap cannot start a sandbox on this machine: {why}")
        return sandbox

    def rlimits(self) -> list[tuple[str, int, int]]:
        lim = self.limits
        return [("RLIMIT_CPU", lim.cpu_s, lim.cpu_s + 1),  # SIGXCPU first, SIGKILL a second later
                ("RLIMIT_AS", lim.memory_bytes, lim.memory_bytes),
                ("RLIMIT_NPROC", lim.processes, lim.processes),
                ("RLIMIT_FSIZE", lim.file_bytes, lim.file_bytes),
                ("RLIMIT_NOFILE", lim.open_files, lim.open_files),
                ("RLIMIT_CORE", 0, 0),
                ("RLIMIT_MSGQUEUE", 0, 0)]

    def command(self, code: bytes) -> list:
        lim = self.limits
        return [
            self.bwrap,
            "--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL",
            *root_layout(),
            "--proc", "/proc",
            "--dev", "/dev", "--size", str(1024**2), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
            "--size", str(lim.scratch_bytes), "--tmpfs", "/tmp", "--chdir", "/tmp",
            "--remount-ro", "/",
            self.python, "-I", "-u", "-B", "-c", BOOT.format(limits=self.rlimits()), code,
        ]

    def run(self, code: str, should_cancel=None) -> Outcome:
        """Runs `code`; its output and how it ended. Never raises for what the code does;
        ValueError for code that cannot be passed at all (too long, a NUL character)."""
        if "\0" in code:
            raise ValueError("the code contains a NUL character")
        source = code.encode("utf-8", "replace")  # a lone surrogate becomes "?"
        if len(source) > MAX_CODE_BYTES:
            raise ValueError(f"the code is longer than {MAX_CODE_BYTES:,} bytes")
        started = time.monotonic()
        process = subprocess.Popen(self.command(source), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={},
                                   cwd="/", start_new_session=True, **self.credentials)
        outcome = Outcome(output="")
        received = bytearray()
        most_bytes = self.limits.output_chars * 4
        deadline = started + self.limits.wall_s
        fd = process.stdout.fileno()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    outcome.timed_out = True
                    break
                if should_cancel is not None and should_cancel():
                    outcome.cancelled = True
                    break
                ready, _, _ = select.select([fd], [], [], min(left, POLL_S))
                if not ready:
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                received += chunk
                if len(received) > most_bytes or len(received.decode("utf-8", "replace")) > self.limits.output_chars:
                    outcome.cut = True
                    break
        finally:
            if outcome.timed_out or outcome.cancelled or outcome.cut:
                kill(process)
            status = wait(process, deadline)
            process.stdout.close()
        text = received.decode("utf-8", "replace")
        if len(text) > self.limits.output_chars:
            text = text[:self.limits.output_chars]
        outcome.output = text
        outcome.seconds = time.monotonic() - started
        if not (outcome.timed_out or outcome.cancelled or outcome.cut):
            if status is None:  # the output ended but the sandbox lingered past the deadline
                outcome.timed_out = True
            elif 128 < status <= 128 + signal.SIGRTMAX:  # bwrap: killed by signal N is 128 + N
                outcome.signal = status - 128
            elif status < 0:
                outcome.signal = -status
            else:
                outcome.exit_code = status
        return outcome


def kill(process: subprocess.Popen) -> None:
    """SIGKILL to bwrap's process group; its death takes the sandbox's PID namespace along."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait(process: subprocess.Popen, deadline: float) -> int | None:
    """bwrap's exit status; killed (status None) if it outlives the deadline."""
    try:
        return process.wait(timeout=max(0.0, deadline - time.monotonic()) + 0.5)
    except subprocess.TimeoutExpired:
        kill(process)
        process.wait()
        return None
