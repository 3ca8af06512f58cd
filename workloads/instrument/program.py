"""Which runtime a consumer command starts: the one rule riverbed and the report share.

A command's program is its first word after ``env`` and ``VAR=value`` assignments, as a
shell would split it. riverbed instruments a Python program (``python``, ``python3.11``,
a path to one, or a ``.py`` script) with its Python layer and a JVM (``java``, a path to
one such as ``$JAVA_HOME/bin/java``, or a ``.jar``) with its Java agent.
"""

from __future__ import annotations

import os
import re
import shlex

_PYTHON = re.compile(r"python[0-9.]*")
_JAVA = re.compile(r"java[0-9.]*")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


def program(cmd: object) -> str | None:
    """The base name of the program ``cmd`` starts (None: not a command, or none)."""
    try:
        words = shlex.split(cmd) if isinstance(cmd, str) else []
    except ValueError:
        return None
    i = 1 if words and os.path.basename(words[0]) == "env" else 0
    while i < len(words) and _ASSIGNMENT.fullmatch(words[i]):
        i += 1
    return os.path.basename(words[i]) if i < len(words) else None


def runs_python(cmd: object) -> bool:
    """Whether ``cmd`` starts a Python program."""
    first = program(cmd)
    return first is not None and (bool(_PYTHON.fullmatch(first)) or first.endswith(".py"))


def runs_java(cmd: object) -> bool:
    """Whether ``cmd`` starts a JVM."""
    first = program(cmd)
    return first is not None and (bool(_JAVA.fullmatch(first)) or first.endswith(".jar"))
