"""Documents from outside (JSON, YAML, files, stdin): read with bounds, then checked against a declared schema.

Every JSON or YAML document the tool did not just write itself (checkpoint
metadata, resume state, ``metrics.jsonl``, tokenizer files, ``--config``) is
untrusted. It is parsed here with limits on its size, nesting depth and the size
of its numbers, so that no input reaches Python's recursion limit, its limit on
converting long digit strings, or a C integer conversion; then a pydantic model
(a declared schema: types, required fields, ranges) checks it before any field
is used, and the first problem becomes one line naming the file and the field.
Files are opened only when they are regular files (a FIFO or a device would
block or never end), and what must be held whole is read with a size cap.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from rnncli.core.errors import RnnError, UsageError

MAX_DEPTH = 32  # nesting of lists and mappings; our documents need 5
MAX_INT = 2**63 - 1  # every whole number must fit a signed 64-bit integer
MAX_NUMBER_CHARS = 400  # a number written with more characters is refused before it is converted
MAX_YAML_BYTES = 1 << 20  # a --config file
MAX_STDIN_BYTES = 1 << 30  # input read whole from stdin (a prompt, a table)

Schema = TypeVar("Schema", bound=pydantic.BaseModel)


class _Refused(ValueError):
    """A number the parser must not convert."""


def _parse_int(text: str) -> int:
    if len(text) > 20 or abs(int(text)) > MAX_INT:
        raise _Refused(f"a whole number beyond 64 bits ({text[:12]}...)")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number written with {len(text):,} characters")
    return float(text)


def load_json(text: str | bytes, *, where: str, what: str, error: type[RnnError], max_chars: int) -> Any:
    """``text`` parsed as JSON (bytes must be UTF-8), bounded; ``where: what`` names it in the errors."""
    if len(text) > max_chars:
        raise error(f"{where}: {what} is too large ({len(text):,} characters; at most {max_chars:,})")
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float)
    except RecursionError:
        raise error(f"{where}: {what} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except _Refused as exc:
        raise error(f"{where}: {what} holds {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise error(f"{where}: {what} is corrupted (not JSON)") from None
    check_depth(value, where=where, what=what, error=error)
    return value


def check_depth(value: Any, *, where: str, what: str, error: type[RnnError]) -> None:
    """Refuse a value nested deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise error(f"{where}: {what} is nested too deeply (at most {MAX_DEPTH} levels)")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def validate(schema: type[Schema], value: Any, *, where: str, error: type[RnnError]) -> Schema:
    """``value`` checked against ``schema``; the first problem names the field (``model.hidden_size``)."""
    try:
        return schema.model_validate(value)
    except pydantic.ValidationError as exc:
        raise error(f"{where}: {describe_problem(exc.errors()[0])}") from None


def describe_problem(problem: dict[str, Any]) -> str:
    """One pydantic error as ``field 'a.b' must be ..., got ...``."""
    field = ".".join(str(part) for part in problem.get("loc", ()))
    message = str(problem.get("msg", "is not valid"))
    message = message.replace("Input should be", "must be").replace("Field required", "is missing")
    message = message.removeprefix("Value error, ")
    message = re.sub(r"a valid dictionary( or instance of \w+)?", "a mapping", message)
    message = message[0].lower() + message[1:] if message else message
    shown = "" if problem.get("type") == "missing" else f", got {shown_value(problem.get('input'))}"
    return f"field '{field}' {message}{shown}" if field else f"{message}{shown}"


def shown_value(value: Any, limit: int = 40) -> str:
    """A short, printable rendering of an untrusted value (control characters escaped)."""
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    text = text if len(text) <= limit else text[:limit] + "..."
    return escape_controls(text)


def escape_controls(text: str) -> str:
    """``text`` with control characters (ANSI escapes, bells, line breaks) shown as ``\\x1b``-style escapes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


# --- files -----------------------------------------------------------------------------------


def check_regular_file(
    path: str | Path, *, label: str = "", noun: str = "", error: type[RnnError] = UsageError
) -> os.stat_result:
    """Stat ``path`` and refuse anything but a regular file (a FIFO, a device, a socket), naming it."""
    name = f"{label} {path}" if label else str(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise error(f"{name}: cannot read{' ' + noun if noun else ''} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{name}: a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{name}: not a regular file (a pipe, device or socket); give a file")
    return info


def read_capped(
    path: str | Path, limit: int, *, label: str = "", noun: str = "", error: type[RnnError] = UsageError
) -> bytes:
    """The bytes of a regular file, or of stdin for ``-``, refused when over ``limit`` bytes."""
    name = f"{label} {path}" if label else str(path)
    if str(path) == "-":
        if sys.stdin is None:  # started with stdin closed (<&-)
            raise error(f"{name}: standard input is closed; give a file or pipe the input in")
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read(limit + 1) if stream is not None else sys.stdin.read(limit + 1).encode("utf-8")
    else:
        check_regular_file(path, label=label, noun=noun, error=error)
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise error(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise error(f"{name}: more than {limit:,} bytes; the limit for this input is {limit:,} bytes")
    return data


# --- YAML ------------------------------------------------------------------------------------


class _BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases, duplicate keys, deep nesting or giant numbers."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _YamlRefused(event.start_mark, "aliases (*name) are not accepted; write the value out")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise _YamlRefused(self.peek_event().start_mark, f"nested too deeply (at most {MAX_DEPTH} levels)")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                raise _YamlRefused(key_node.start_mark, f"key '{escape_controls(str(key))}' appears twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        if len(str(node.value)) > 20:
            raise _YamlRefused(node.start_mark, "a whole number beyond 64 bits")
        value = super().construct_yaml_int(node)
        if abs(value) > MAX_INT:
            raise _YamlRefused(node.start_mark, "a whole number beyond 64 bits")
        return value

    def construct_yaml_float(self, node):
        if len(str(node.value)) > MAX_NUMBER_CHARS:
            raise _YamlRefused(node.start_mark, "a number written with too many characters")
        return super().construct_yaml_float(node)


_BoundedSafeLoader.add_constructor("tag:yaml.org,2002:int", _BoundedSafeLoader.construct_yaml_int)
_BoundedSafeLoader.add_constructor("tag:yaml.org,2002:float", _BoundedSafeLoader.construct_yaml_float)


class _YamlRefused(yaml.YAMLError):
    def __init__(self, mark, problem: str):
        super().__init__(problem)
        self.problem_mark, self.problem = mark, problem


def load_yaml(path: str | Path, *, error: type[RnnError] = UsageError, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """A YAML file (UTF-8, at most ``max_bytes``) parsed by the bounded loader."""
    raw = read_capped(path, max_bytes, noun="config file", error=error)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not valid UTF-8 at byte offset {exc.start}; save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_BoundedSafeLoader)  # noqa: S506 (a SafeLoader subclass)
    except RecursionError:
        raise error(f"{path}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        if isinstance(exc, _YamlRefused):
            raise error(f"{path}:{line}: {exc.problem}") from None
        raise error(f"{path}:{line} is not valid YAML; check indentation and quoting") from None
