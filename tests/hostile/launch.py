"""Start ``exmech`` with one defence taken away, so a test can show the next one holds.

    python tests/hostile/launch.py lexer-off serve      the query policy lets everything
                                                        through (SERVICE, LOAD, FROM, graph
                                                        parameters): only the workers' seccomp
                                                        filter stands between a query and the
                                                        network
    python tests/hostile/launch.py no-seccomp serve     the process runs where seccomp() is
                                                        refused (as in a container whose
                                                        profile denies it): exmech must refuse
                                                        to start unless told otherwise

Tests only; nothing in the service imports this.
"""

from __future__ import annotations

import os
import sys


def main(mode: str, args: list[str]) -> None:
    if mode == "lexer-off":
        from exmech import policy

        policy.check_query = lambda info, allowlist: None
        policy.check_graphs = lambda requested, graphs: None
    elif mode == "no-seccomp":
        from exmech import sandbox

        sandbox.deny_calls([sandbox.ABIS[os.uname().machine].seccomp])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    from exmech.cli import main as exmech

    sys.argv = ["exmech", *args]
    exmech()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
