"""Run many ``rnn`` command lines in separate processes, paying torch's import once.

Used by the error catalogue: ``python tests/catalogue_runner.py PLAN.json
RESULTS.json`` (PLAN: ``{"cases": {id: argv}, "warm_up": [argv, ...]}``).
The parent imports the package and runs the warm-up commands once, then forks one child per
command line (four at a time); the child calls ``rnncli.cli.main()`` (what the ``rnn`` script
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


def warm_up(argvs: list[list[str]]) -> None:
    """Run some commands in the parent first: torch imports much of itself lazily, on first use."""
    import rnncli.cli

    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for argv in argvs:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            sys.argv = ["rnn", *argv]
            try:
                rnncli.cli.main()
            except SystemExit:
                pass
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)


def run_all(cases: dict[str, list[str]], *, parallel: int = 4, warm: list[list[str]] = ()) -> dict[str, dict]:
    warm_up(list(warm))
    results, running = {}, {}
    pending = list(cases.items())
    with tempfile.TemporaryDirectory() as scratch:
        while pending or running:
            while pending and len(running) < parallel:
                case_id, argv = pending.pop(0)
                out_path = os.path.join(scratch, f"{len(results) + len(running)}-{len(pending)}.out")
                err_path = out_path[:-4] + ".err"
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(argv, out_path, err_path)
                running[pid] = (case_id, out_path, err_path)
            pid, status = os.wait()
            case_id, out_path, err_path = running.pop(pid)
            with (
                open(out_path, encoding="utf-8", errors="replace") as out,
                open(err_path, encoding="utf-8", errors="replace") as err,
            ):
                results[case_id] = {
                    "returncode": os.waitstatus_to_exitcode(status),
                    "stdout": out.read(),
                    "stderr": err.read(),
                }
    return results


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        plan = json.load(handle)
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(run_all(plan["cases"], warm=plan["warm_up"]), handle)
