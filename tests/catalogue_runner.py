"""Run many ``rnn`` command lines in separate processes, paying torch's import once.

Used by the error catalogue: ``python tests/catalogue_runner.py CASES.json
RESULTS.json``. The parent imports the package once, then forks one child per
command line; the child calls ``rnncli.cli.main()`` (what the ``rnn`` script
runs) with its own argv, stdin from /dev/null and stdout/stderr into files,
and exits with the command's exit code. An uncaught exception in a child
prints its traceback to the child's stderr, as the real command would.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import traceback


def _child(argv: list[str], out_path: str, err_path: str) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    for fd, path in ((1, out_path), (2, err_path)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, fd)
    code = 0
    try:
        import rnncli.cli

        sys.argv = ["rnn", *argv]
        rnncli.cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def run_all(cases: dict[str, list[str]]) -> dict[str, dict]:
    import rnncli.checkpoint  # noqa: F401  (torch and the package, imported once before forking)
    import rnncli.cli  # noqa: F401
    import rnncli.report  # noqa: F401
    import rnncli.workflows  # noqa: F401

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for case_id, argv in cases.items():
            out_path, err_path = os.path.join(scratch, "out"), os.path.join(scratch, "err")
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(argv, out_path, err_path)
            _, status = os.waitpid(pid, 0)
            with open(out_path, encoding="utf-8", errors="replace") as out, \
                    open(err_path, encoding="utf-8", errors="replace") as err:
                results[case_id] = {"returncode": os.waitstatus_to_exitcode(status),
                                    "stdout": out.read(), "stderr": err.read()}
    return results


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        cases = json.load(handle)
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(run_all(cases), handle)
