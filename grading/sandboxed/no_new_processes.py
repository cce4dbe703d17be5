"""Forbid the calling process to start programs or processes, for good; threads stay allowed.

Installs a seccomp filter (Linux) that makes fork, vfork, execve, execveat and a clone without CLONE_THREAD fail with
EPERM, and clone3 fail with ENOSYS so that the C library falls back to clone for threads. A filter cannot be removed,
and it is inherited by every thread, so code that runs after `forbid()` can neither spawn a detached process nor run
another program. Only this module's standard-library imports are needed: it runs inside the sandbox.
"""
import ctypes
import errno
import platform
import struct

# Linux constants (linux/seccomp.h, linux/filter.h, linux/audit.h, linux/sched.h).
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_JSET_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
CLONE_THREAD = 0x00010000
X32_SYSCALL_BIT = 0x40000000
# seccomp_data: the system call number at offset 0, the architecture at 4, the first argument at 16.
NR_OFFSET, ARCH_OFFSET, FIRST_ARGUMENT_OFFSET = 0, 4, 16

# Per architecture: audit id, the calls refused outright, clone and clone3.
ARCHITECTURES = {
    "x86_64": dict(audit=0xC000003E, refused={"fork": 57, "vfork": 58, "execve": 59, "execveat": 322},
                   clone=56, clone3=435),
    "aarch64": dict(audit=0xC00000B7, refused={"execve": 221, "execveat": 281}, clone=220, clone3=435),
}


class UnsupportedArchitecture(RuntimeError):
    """The filter is only written for the architectures in ARCHITECTURES."""


def _instruction(code, k, jump_true=0, jump_false=0):
    return struct.pack("HBBI", code, jump_true, jump_false, k)


def filter_program(machine):
    """The BPF program for `machine` (platform.machine()), as bytes of struct sock_filter."""
    if machine not in ARCHITECTURES:
        raise UnsupportedArchitecture(f"no process filter for {machine!r}; supported: {sorted(ARCHITECTURES)}")
    arch = ARCHITECTURES[machine]
    refuse = SECCOMP_RET_ERRNO | errno.EPERM
    program = [
        _instruction(BPF_LD_W_ABS, ARCH_OFFSET),
        _instruction(BPF_JEQ_K, arch["audit"], 1, 0),
        _instruction(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        _instruction(BPF_LD_W_ABS, NR_OFFSET),
        _instruction(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),  # another ABI's numbering: refuse everything
        _instruction(BPF_RET_K, refuse),
    ]
    for number in arch["refused"].values():
        program += [_instruction(BPF_JEQ_K, number, 0, 1), _instruction(BPF_RET_K, refuse)]
    program += [
        _instruction(BPF_JEQ_K, arch["clone3"], 0, 1),
        _instruction(BPF_RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS),
        _instruction(BPF_JEQ_K, arch["clone"], 0, 4),
        _instruction(BPF_LD_W_ABS, FIRST_ARGUMENT_OFFSET),  # clone's flags (low 32 bits)
        _instruction(BPF_JSET_K, CLONE_THREAD, 1, 0),
        _instruction(BPF_RET_K, refuse),
        _instruction(BPF_RET_K, SECCOMP_RET_ALLOW),
        _instruction(BPF_RET_K, SECCOMP_RET_ALLOW),
    ]
    return b"".join(program)


def forbid():
    """Install the filter on the calling process; raises OSError or UnsupportedArchitecture if it cannot."""
    program = filter_program(platform.machine())
    count = len(program) // 8
    buffer = ctypes.create_string_buffer(program, len(program))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(count, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
