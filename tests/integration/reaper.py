#!/usr/bin/python3
"""reaper.py [--keep] OUT.json CMD...: run CMD as a child subreaper (as containerd's
shim is), wait for it, then report every descendant left behind.

A runtime that double-forks or leaves its container init alive after a
refused `create` shows up here as an orphan reparented to us, whatever its
name.  Leftovers are reported in OUT.json, then killed and reaped (with
--keep, left running: after a successful create the init is expected)."""

import ctypes
import json
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def children_of(pid):
    kids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        # The comm field may contain spaces and parentheses: split after the last ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            kids.append({"pid": int(p), "state": fields[0], "cmdline": cmd})
    return kids


def main():
    keep = sys.argv[1] == "--keep"
    if keep:
        del sys.argv[1]
    out_path, argv = sys.argv[1], sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    # Give a straggler that is still on its way out a moment.
    leftovers = []
    for _ in range(20):
        leftovers = [k for k in children_of(os.getpid()) if k["state"] != "Z"]
        if not leftovers:
            break
        time.sleep(0.05)
    with open(out_path, "w") as f:
        json.dump({"rc": rc, "leftovers": leftovers}, f)
    for k in [] if keep else children_of(os.getpid()):
        try:
            os.kill(k["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    while not keep:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
