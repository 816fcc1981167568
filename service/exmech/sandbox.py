"""Confine a process that evaluates untrusted input: no network, bounded memory.

pyoxigraph calls any ``SERVICE`` endpoint a query names and cannot be told not to; the
query lexer (``querytext``) refuses such queries early with a readable 403, but a lexer is
only as good as its reading of the grammar. This module makes outbound requests impossible
where queries run, whatever the text says: ``deny_network`` installs a seccomp filter in the
calling process (every thread, and every thread or child started later) under which
``socket()``, ``connect()`` and ``io_uring`` (which can open sockets without ``socket()``)
fail with EPERM. It needs no privilege (``PR_SET_NO_NEW_PRIVS`` first, as the kernel
demands from unprivileged callers) and works as root too; a network namespace would need
root or unprivileged user namespaces, which containers and several distributions disable.

The filter checks the system-call ABI first: a foreign one (32-bit calls on a 64-bit
kernel, x32 calls on x86-64) is refused outright, so there is no second way into
``socket``. After installing it, ``deny_network`` proves it: opening a socket must fail.

``limit_memory`` caps the process's private memory (``RLIMIT_DATA``: heap and anonymous
mappings, not the mapped store files): an allocation past it fails, and Rust code (the
query engine) aborts the process, which the caller recognises by its SIGABRT.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import signal
import socket
import struct
from collections.abc import Iterable

# Kernel constants (linux/prctl.h, linux/seccomp.h, linux/filter.h, linux/audit.h).
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
BPF_LD_W_ABS = 0x00 | 0x00 | 0x20
BPF_JEQ_K = 0x05 | 0x10 | 0x00
BPF_JGE_K = 0x05 | 0x30 | 0x00
BPF_RET_K = 0x06 | 0x00
SECCOMP_DATA_NR = 0  # offsetof(struct seccomp_data, nr)
SECCOMP_DATA_ARCH = 4  # offsetof(struct seccomp_data, arch)
X32_SYSCALL_BIT = 0x40000000
DENIED_ERRNO = errno.EPERM
OUT_OF_MEMORY_EXIT = 86  # exit status of a confined process that caught a MemoryError


class Abi:
    """What the filter needs to know about one machine: its audit arch and call numbers."""

    def __init__(self, audit_arch: int, seccomp: int, denied: dict[str, int]) -> None:
        self.audit_arch = audit_arch
        self.seccomp = seccomp
        self.denied = denied


# io_uring_setup/enter/register are 425-427 on every architecture (unified numbering).
_IO_URING = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427}
ABIS = {
    "x86_64": Abi(0xC000003E, 317, {"socket": 41, "connect": 42, "socketpair": 53, **_IO_URING}),
    "aarch64": Abi(
        0xC00000B7, 277, {"socket": 198, "socketpair": 199, "connect": 203, **_IO_URING}
    ),
}


class SandboxUnavailable(RuntimeError):
    """The network cannot be denied here (not Linux, unknown CPU, seccomp missing)."""


SECCOMP_DATA_ARG0 = 16  # offsetof(struct seccomp_data, args[0]); its low word (little-endian)
# A program is a list of (code, k, jump-if-true label, jump-if-false label); labels are
# resolved to the relative offsets classic BPF wants.
_Op = tuple[int, int, str, str]


def _assemble(ops: list[_Op | str]) -> list[bytes]:
    where: dict[str, int] = {}
    body: list[_Op] = []
    for op in ops:
        if isinstance(op, str):
            where[op] = len(body)
        else:
            body.append(op)
    program = []
    for i, (code, k, if_true, if_false) in enumerate(body):
        jt = where[if_true] - i - 1 if if_true else 0
        jf = where[if_false] - i - 1 if if_false else 0
        program.append(struct.pack("HBBI", code, jt, jf, k))
    return program


def network_filter(abi: Abi, denied: Iterable[int], families: Iterable[int] = ()) -> list[bytes]:
    """The classic-BPF program: deny a foreign ABI and the ``denied`` calls, allow the rest.

    With ``families``, ``socket()`` of those address families is allowed (the SERVICE
    allow-list needs TCP); every other family stays denied.

    >>> abi = ABIS["x86_64"]
    >>> len(network_filter(abi, abi.denied.values()))
    12
    """
    numbers = sorted(set(denied))
    socket_nr = abi.denied["socket"]
    ops: list[_Op | str] = [
        (BPF_LD_W_ABS, SECCOMP_DATA_ARCH, "", ""),
        (BPF_JEQ_K, abi.audit_arch, "native", "deny"),
        "native",
        (BPF_LD_W_ABS, SECCOMP_DATA_NR, "", ""),
        # x32 calls share x86-64's audit arch; their numbers carry this bit. No such call
        # exists on aarch64, so the test is harmless there.
        (BPF_JGE_K, X32_SYSCALL_BIT, "deny", "calls"),
        "calls",
    ]
    allowed_families = sorted(set(families))
    if allowed_families:
        ops.append((BPF_JEQ_K, socket_nr, "family", "listed"))
        ops.append("listed")
        numbers = [n for n in numbers if n not in (socket_nr, abi.denied["connect"])]
    for number in numbers:
        ops.append((BPF_JEQ_K, number, "deny", f"after-{number}"))
        ops.append(f"after-{number}")
    ops.append((BPF_RET_K, SECCOMP_RET_ALLOW, "", ""))
    if allowed_families:
        ops.append("family")
        ops.append((BPF_LD_W_ABS, SECCOMP_DATA_ARG0, "", ""))
        for family in allowed_families:
            ops.append((BPF_JEQ_K, family, "allow", f"not-{family}"))
            ops.append(f"not-{family}")
        ops.append((BPF_RET_K, SECCOMP_RET_ERRNO | DENIED_ERRNO, "", ""))
        ops.append("allow")
        ops.append((BPF_RET_K, SECCOMP_RET_ALLOW, "", ""))
    ops.append("deny")
    ops.append((BPF_RET_K, SECCOMP_RET_ERRNO | DENIED_ERRNO, "", ""))
    return _assemble(ops)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _abi() -> Abi:
    machine = platform.machine()
    abi = ABIS.get(machine)
    if platform.system() != "Linux" or abi is None:
        raise SandboxUnavailable(
            f"no seccomp filter for {platform.system()} {machine} (Linux x86_64 and aarch64 only)"
        )
    return abi


def deny_calls(numbers: Iterable[int], families: Iterable[int] = ()) -> None:
    """Install a filter under which these system calls of the native ABI fail with EPERM
    (``socket()`` of ``families`` excepted, see ``network_filter``).

    Raises SandboxUnavailable when the kernel refuses the filter.
    """
    abi = _abi()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SandboxUnavailable(f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}")
    program = network_filter(abi, numbers, families)
    code = ctypes.create_string_buffer(b"".join(program))
    fprog = _SockFprog(len(program), ctypes.addressof(code))
    result = libc.syscall(
        abi.seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(fprog)
    )
    if result != 0:
        raise SandboxUnavailable(f"seccomp(SET_MODE_FILTER): {os.strerror(ctypes.get_errno())}")


def deny_network(allow_tcp: bool = False) -> str:
    """Make every later ``socket()`` / ``connect()`` in this process fail; irreversible.

    ``allow_tcp`` (for a SERVICE allow-list) keeps IPv4 and IPv6 sockets open; Unix,
    netlink, packet and every other family, and io_uring, stay denied.

    Returns a one-line description of what was applied. Raises SandboxUnavailable, saying
    why, when the filter cannot be installed or a denied socket can still be opened.
    """
    families = (socket.AF_INET, socket.AF_INET6) if allow_tcp else ()
    deny_calls(_abi().denied.values(), families)
    probes = (socket.AF_UNIX,) if allow_tcp else (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX)
    for family in probes:
        try:
            socket.socket(family, socket.SOCK_STREAM).close()
        except PermissionError:
            continue
        raise SandboxUnavailable(f"the seccomp filter is installed but {family.name} opens")
    if allow_tcp:
        return "seccomp: only IPv4/IPv6 sockets (SERVICE allow-list), io_uring denied"
    return "seccomp: socket, connect and io_uring denied"


def limit_memory(megabytes: int) -> str:
    """Cap this process's private memory at ``megabytes`` MiB (0: leave it unlimited).

    Raises SandboxUnavailable when the limit cannot be set.
    """
    if megabytes <= 0:
        return "memory: unlimited"
    limit = megabytes * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        # An allocation failure aborts the process: no core file of query data, and no time
        # spent writing one before the pool can read the exit status.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError) as exc:
        raise SandboxUnavailable(f"setrlimit(RLIMIT_DATA, {megabytes} MiB): {exc}") from exc
    return f"memory: RLIMIT_DATA {megabytes} MiB"


def ran_out_of_memory(exitcode: int | None) -> bool:
    """Whether a confined process's exit code says an allocation failed: Rust aborts
    (SIGABRT), Python code exits with OUT_OF_MEMORY_EXIT.

    >>> ran_out_of_memory(-signal.SIGABRT), ran_out_of_memory(-signal.SIGKILL)
    (True, False)
    """
    return exitcode in (-signal.SIGABRT, OUT_OF_MEMORY_EXIT)


# How the engine words a refused socket: directly, or as a name lookup that could not ask.
_REFUSED = (f"(os error {DENIED_ERRNO})", "failed to lookup address information")


def refused_connection(exc: BaseException) -> bool:
    """Whether an engine error is the filter refusing a socket (``os error 1``), or a name
    lookup failing because it could not open one.

    >>> refused_connection(PermissionError("Operation not permitted (os error 1)"))
    True
    >>> refused_connection(OSError("No such file or directory (os error 2)"))
    False
    """
    return isinstance(exc, OSError) and any(sign in str(exc) for sign in _REFUSED)
