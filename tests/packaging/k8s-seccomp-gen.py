#!/usr/bin/env python3
"""Write packaging/kubernetes/seccomp/sluiced.json, the seccomp profile of
the DaemonSet's sluiced container, from systemd's syscall groups (as
`systemd-analyze syscall-filter` lists them): what the systemd unit allows
sluiced (SystemCallFilter=@system-service, then ~@privileged; @aio in it
holds io_uring_setup/enter/register), and back the uid and capability
calls of @privileged that a container runtime makes after it loaded the
profile when privilege escalation is allowed (runc sets the user and
capabilities after seccomp then).  Every other call fails with EPERM, as
SystemCallErrorNumber=EPERM in the unit.

usage: k8s-seccomp-gen.py > packaging/kubernetes/seccomp/sluiced.json
"""
import json
import subprocess
import sys

RUNTIME = ["capset", "setgroups", "setgroups32", "setresuid", "setresuid32",
           "setreuid", "setreuid32", "setuid", "setuid32"]


def expand(group, seen=None):
    """the syscalls of a systemd group, its nested groups expanded"""
    seen = set() if seen is None else seen
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager",
                          group], check=True, capture_output=True,
                         text=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            if line not in seen:
                seen.add(line)
                names |= expand(line, seen)
        else:
            names.add(line)
    return names


def main():
    allow = (expand("@system-service") - expand("@privileged")) | set(RUNTIME)
    for must in ("io_uring_setup", "io_uring_enter", "io_uring_register",
                 "execve"):
        if must not in allow:
            sys.exit(f"k8s-seccomp-gen: {must} is not allowed: the groups "
                     "of this systemd differ")
    ver = subprocess.run(["systemd-analyze", "--version"], check=True,
                         capture_output=True, text=True).stdout.split()[1]
    json.dump({
        "comment": ("sluiced's seccomp profile (packaging/kubernetes/README.md): "
                    "made by tests/packaging/k8s-seccomp-gen.py from the "
                    f"syscall groups of systemd {ver}: @system-service "
                    "without @privileged, as the systemd unit, plus the uid "
                    "and capability calls of a container runtime"),
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                          "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": [{"names": sorted(allow), "action": "SCMP_ACT_ALLOW"}],
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
