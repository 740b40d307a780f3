"""Start a student's kernel with limits: ``python -m rlcourse.grading._sandbox CONFIG -- CMD...``.

Before it becomes the kernel (``exec``), this process starts a new session (so the whole
process group can be killed at the end), sets resource limits (address space, file size, core
dumps, and — meaningful only for a non-root user — the number of processes), ignores
``SIGXFSZ`` (an oversized write fails with an error instead of killing the kernel) and, in the
``user`` mode, hands the connection file to the submission's own user id and drops every
privilege (groups, gid, uid) for good.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
from pathlib import Path

_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT = 1, 2, 4, 32
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 1 << 14, 1 << 18
_SYSTEM = ("/", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/dev", "/proc", "/sys", "/run")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    libc = ctypes.CDLL(None, use_errno=True)

    def b(x: str | None) -> bytes | None:
        return x.encode() if x else None

    if libc.mount(b(src), b(target), b(fstype), ctypes.c_ulong(flags), b(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def isolate(hide: list[str], read_only: list[str], writable: list[str]) -> None:
    """A private mount namespace: each folder in ``hide`` becomes an empty read-only folder;
    ``read_only`` (the installation) and ``writable`` (the work folder) stay visible (the
    first read-only), even where they lie inside a hidden folder."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    keep = [(p, os.open(p, os.O_PATH), True) for p in read_only if os.path.isdir(p)]
    keep += [(p, os.open(p, os.O_PATH), False) for p in writable if os.path.isdir(p)]
    hidden = []
    for h in sorted({str(Path(h)) for h in hide if os.path.isdir(h)}, key=len):
        if h in _SYSTEM or any(_under(h, x) for x in hidden):
            continue
        _mount("tmpfs", h, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=755,size=1m")
        hidden.append(h)
    for path, fd, ro in keep:
        if any(_under(path, h) for h in hidden):
            os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
        if ro:
            _mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID)
        os.close(fd)
    for h in hidden:
        _mount(None, h, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)


def apply(config: dict) -> None:
    """Set the limits and identity described by ``config`` on this process."""
    try:
        os.setsid()
    except OSError:  # already a session leader
        pass
    limits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, int(config.get("fsize") or 0)),
        (resource.RLIMIT_AS, int(config.get("as") or 0)),
        (resource.RLIMIT_NPROC, int(config.get("nproc") or 0)),
    ]
    for which, value in limits:
        if value > 0 or which == resource.RLIMIT_CORE:
            resource.setrlimit(which, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    uid, gid = config.get("uid"), config.get("gid")
    if config.get("hide") is not None:
        isolate(config["hide"], config.get("read_only", []), config.get("writable", []))
    if uid is not None:
        for path in config.get("chown", []):
            os.chown(path, uid, gid)
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise SystemExit("could not drop privileges")
    os.umask(0o077)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m rlcourse.grading._sandbox CONFIG -- CMD...", file=sys.stderr)
        return 2
    config = json.loads(argv[0])
    cmd = argv[2:]
    for i, arg in enumerate(cmd):  # the connection file is only known at launch
        if "chown" in config and arg.endswith(".json") and i > 0 and cmd[i - 1] == "-f":
            config["chown"] = [*config["chown"], arg]
    apply(config)
    os.execv(cmd[0], cmd)
    return 1  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
