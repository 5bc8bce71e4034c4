"""Where each key of a TOML document is: 1-based line numbers for configuration errors.

``tomllib`` gives values but no positions; this small scanner walks the text of a document
that already parsed and records the line of every key path, so that an error can say
``cameras[1].kind (line 14): …``.
"""

from __future__ import annotations

import bisect
import contextlib
import re
import tomllib

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def locate_keys(text: str) -> dict[KeyPath, int]:
    """Map each key path of a (syntactically valid) TOML document to its 1-based line.

    Tables and arrays of tables map to their header line; ``[[cameras]]`` entries are counted
    by index; dotted keys, inline tables and arrays are followed. Best effort: on anything
    unexpected it returns what it found so far.
    """
    scanner = _Scanner(text)
    with contextlib.suppress(IndexError, ValueError):
        scanner.document()
    return scanner.lines


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.lines: dict[KeyPath, int] = {}
        self.arrays: dict[KeyPath, int] = {}  # array-of-tables path -> entries so far
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    # -- helpers ------------------------------------------------------------------------------
    def line(self) -> int:
        return bisect.bisect_right(self._starts, self.i)

    def record(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    def peek(self, token: str) -> bool:
        return self.s.startswith(token, self.i)

    def skip_spaces(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def skip_blank(self) -> None:
        """Spaces, newlines and comments."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "#":
                self.skip_line()
            else:
                break

    def skip_line(self) -> None:
        end = self.s.find("\n", self.i)
        self.i = len(self.s) if end < 0 else end + 1

    def expect(self, token: str) -> None:
        if not self.peek(token):
            raise ValueError(f"expected {token!r} at {self.i}")
        self.i += len(token)

    # -- grammar ------------------------------------------------------------------------------
    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank()
            if self.i >= len(self.s):
                return
            start = self.i
            line = self.line()
            if self.peek("[["):
                self.i += 2
                parts = self.key()
                array = (*self.resolve(parts[:-1]), parts[-1])
                self.skip_spaces()
                self.expect("]]")
                index = self.arrays.get(array, 0)
                self.arrays[array] = index + 1
                table = (*array, index)
                self.record(array, line)
                self.record(table, line)
            elif self.peek("["):
                self.i += 1
                table = self.resolve(self.key())
                self.skip_spaces()
                self.expect("]")
                for end in range(1, len(table) + 1):
                    self.record(table[:end], line)
            else:
                self.key_value(table)
            self.skip_spaces()
            if self.peek("#") or self.peek("\n") or self.peek("\r\n"):
                self.skip_line()
            if self.i == start:  # never loop without progress
                self.skip_line()

    def resolve(self, parts: tuple[str, ...]) -> KeyPath:
        """Header keys name the last entry of any array of tables they go through."""
        path: KeyPath = ()
        for part in parts:
            path = (*path, part)
            if path in self.arrays:
                path = (*path, self.arrays[path] - 1)
        return path

    def key_value(self, base: KeyPath) -> None:
        line = self.line()
        parts = self.key()
        for end in range(1, len(parts) + 1):
            self.record((*base, *parts[:end]), line)
        self.skip_spaces()
        self.expect("=")
        self.value((*base, *parts))

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_spaces()
            if self.peek('"') or self.peek("'"):
                start = self.i
                self.string()
                parts.append(str(tomllib.loads("k = " + self.s[start : self.i])["k"]))
            else:
                match = _BARE_KEY.match(self.s, self.i)
                if match is None:
                    raise ValueError(f"expected a key at {self.i}")
                parts.append(match.group())
                self.i = match.end()
            self.skip_spaces()
            if not self.peek("."):
                return tuple(parts)
            self.i += 1

    def value(self, path: KeyPath) -> None:
        self.skip_spaces()
        if self.peek("{"):
            self.i += 1
            while True:
                self.skip_blank()
                if self.peek("}"):
                    self.i += 1
                    return
                self.key_value(path)
                self.skip_blank()
                if self.peek(","):
                    self.i += 1
        elif self.peek("["):
            self.i += 1
            index = 0
            while True:
                self.skip_blank()
                if self.peek("]"):
                    self.i += 1
                    return
                self.record((*path, index), self.line())
                self.value((*path, index))
                index += 1
                self.skip_blank()
                if self.peek(","):
                    self.i += 1
        elif self.peek('"') or self.peek("'"):
            self.string()
        else:
            while self.i < len(self.s) and self.s[self.i] not in ",]}#\r\n":
                self.i += 1

    def string(self) -> None:
        s = self.s
        for quote in ('"""', "'''"):
            if self.peek(quote):
                self.i += 3
                while not s.startswith(quote, self.i):
                    self.i += 2 if quote == '"""' and s[self.i] == "\\" else 1
                self.i += 3
                while self.i < len(s) and s[self.i] == quote[0]:  # up to 2 quotes may end it
                    self.i += 1
                return
        quote = s[self.i]
        self.i += 1
        while s[self.i] != quote:
            if s[self.i] == "\n":
                raise ValueError("unterminated string")
            self.i += 2 if quote == '"' and s[self.i] == "\\" else 1
        self.i += 1
