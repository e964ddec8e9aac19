#!/usr/bin/python3
"""Run a command under a seccomp profile in the JSON format of container
runtimes (the subset packaging/kubernetes/seccomp/sluiced.json uses:
defaultAction SCMP_ACT_ERRNO with defaultErrnoRet, one or more ALLOW
lists of names), as the kubelet's runtime would load it: names this
architecture does not have are skipped, no_new_privs is set, then exec.

usage: seccomp-exec.py PROFILE [--deny NAME]... -- CMD [ARG...]
  --deny NAME  leave NAME out of the allowed calls (a negative control)
Exit 77 when python3-seccomp is missing.
"""
import json
import os
import sys


def main():
    args = sys.argv[1:]
    if "--" not in args or args.index("--") < 1:
        sys.exit(__doc__)
    sep = args.index("--")
    opts, cmd = args[:sep], args[sep + 1:]
    profile, deny = opts[0], set()
    it = iter(opts[1:])
    for o in it:
        if o != "--deny":
            sys.exit(f"seccomp-exec: unknown option {o}")
        deny.add(next(it))
    try:
        import seccomp
    except ImportError:
        print("SKIP: python3-seccomp not installed (packaging/install-deps)",
              file=sys.stderr)
        sys.exit(77)
    p = json.load(open(profile))
    if p.get("defaultAction") != "SCMP_ACT_ERRNO":
        sys.exit(f"seccomp-exec: {profile}: defaultAction "
                 f"{p.get('defaultAction')!r}, want SCMP_ACT_ERRNO")
    f = seccomp.SyscallFilter(seccomp.ERRNO(p.get("defaultErrnoRet", 1)))
    allowed = skipped = 0
    for rule in p["syscalls"]:
        if rule["action"] != "SCMP_ACT_ALLOW" or rule.get("args"):
            sys.exit(f"seccomp-exec: {profile}: only plain ALLOW lists "
                     f"are supported, not {rule}")
        for name in rule["names"]:
            if name in deny:
                continue
            try:
                f.add_rule(seccomp.ALLOW, name)
                allowed += 1
            except (ValueError, RuntimeError, OSError):
                skipped += 1  # not a call of this architecture
    print(f"seccomp-exec: {allowed} calls allowed, {skipped} not on this "
          f"architecture, denied: {' '.join(sorted(deny)) or '-'}",
          file=sys.stderr)
    f.load()
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
