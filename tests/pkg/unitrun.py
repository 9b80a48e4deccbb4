#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Run a systemd service unit's commands as systemd would, where systemd is not PID 1.

    unitrun.py UNIT_FILE INSTANCE

Reads [Service]: EnvironmentFile= (KEY=value lines, quotes removed), ExecStartPre= (each
run to completion; its prefix "+" or "-" honoured as far as it matters here: "-" ignores
failure) and ExecStart= (exec'd, so this process becomes the service and gets its
signals). Specifiers %i and %% are expanded; "$VAR" splits into words, "${VAR}" is one
word, as systemd.service(5) says. Lines ending in a backslash continue.
"""
import os
import re
import shlex
import subprocess
import sys


def read_unit(path):
    keys, section, buf = {}, None, ""
    for raw in open(path):
        line = raw.rstrip("\n")
        if buf:
            line, buf = buf + " " + line.strip(), ""
        if line.endswith("\\"):
            buf = line[:-1].rstrip()
            continue
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            section = s.strip("[]")
            continue
        k, _, v = s.partition("=")
        keys.setdefault((section, k.strip()), []).append(v.strip())
    return keys


def read_env(path):
    env = {}
    for line in open(path):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        k, _, v = s.partition("=")
        env[k.strip()] = " ".join(shlex.split(v)) if v.strip() else ""
    return env


def expand(cmd, inst, env):
    cmd = cmd.replace("%%", "\0").replace("%i", inst).replace("\0", "%")
    words = []
    for w in shlex.split(cmd):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
        if m:
            words += env.get(m.group(1), "").split()
            continue
        words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                            lambda x: env.get(x.group(1), ""), w))
    return words


def main():
    unit, inst = sys.argv[1], sys.argv[2]
    keys = read_unit(unit)
    env = {}
    for f in keys.get(("Service", "EnvironmentFile"), []):
        env.update(read_env(f.replace("%i", inst).lstrip("-")))
    os.environ.update(env)
    for pre in keys.get(("Service", "ExecStartPre"), []):
        ignore = pre.startswith("-") or pre.startswith("+-") or pre.startswith("-+")
        argv = expand(pre.lstrip("+-@!:"), inst, env)
        if subprocess.run(argv).returncode != 0 and not ignore:
            sys.exit("unitrun: ExecStartPre failed: %s" % argv)
    argv = expand(keys[("Service", "ExecStart")][0].lstrip("+-@!:"), inst, env)
    print("unitrun: %s" % " ".join(argv), file=sys.stderr, flush=True)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
