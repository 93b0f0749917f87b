"""The on-disk copy of a finished run while `--force` redoes it (`Store.set_aside`).

A redo first moves the finished run aside: its rows into `rows.json` and its artifact folder into
`files/`, both under `<artifact_root>/.<run_id>.previous/`. The copy is on disk, not in memory,
so a redo killed outright (SIGKILL, a power cut) still leaves the old run to put back: the next
writable `Store` that opens the file restores it (`Store.recover_set_aside`).

The copy is first built in `.<run_id>.previous.partial/` and renamed into place in the same
SQLite transaction that marks the run as being redone, so a folder without `.partial` always
holds a complete copy, and a `.partial` one is the leftover of a set-aside that never committed.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

ASIDE = ".previous"
PARTIAL = ".previous.partial"
ROWS_FILE = "rows.json"
FILES = "files"


@dataclasses.dataclass(frozen=True)
class RunBackup:
    """A finished run set aside for a redo: its rows per table (column names, rows), `runs`
    first, and the folder on disk that holds the copy (`rows.json`, `files/`)."""

    run_id: str
    rows: dict[str, tuple[list[str], list[tuple]]]
    folder: Path

    @property
    def files(self) -> Path:
        """Where the run's artifact folder was moved."""
        return self.folder / FILES


def aside_folder(artifact_root: Path, run_id: str, partial: bool = False) -> Path:
    """The folder of `run_id`'s copy (complete, or `partial` while it is being built)."""
    return artifact_root / f".{run_id}{PARTIAL if partial else ASIDE}"


def leftovers(artifact_root: Path) -> list[tuple[str, Path]]:
    """(run_id, folder) of every copy, complete or partial, under `artifact_root`."""
    if not artifact_root.is_dir():
        return []
    found = []
    for folder in sorted(artifact_root.iterdir()):
        name = folder.name
        for suffix in (PARTIAL, ASIDE):
            if name.startswith(".") and name.endswith(suffix) and folder.is_dir():
                found.append((name[1 : -len(suffix)], folder))
                break
    return found


def write_rows(folder: Path, rows: dict[str, tuple[list[str], list[tuple]]]) -> None:
    """Write `rows` to `folder/rows.json` and flush it to disk (bytes as base64)."""
    data = {table: {"columns": columns, "rows": [[_encode(v) for v in row] for row in values]} for table, (columns, values) in rows.items()}
    path = folder / ROWS_FILE
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())


def read_rows(folder: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """The rows `write_rows` wrote to `folder`, table order kept (`runs` first)."""
    data = json.loads((folder / ROWS_FILE).read_text(encoding="utf-8"))
    return {table: (entry["columns"], [tuple(_decode(v) for v in row) for row in entry["rows"]]) for table, entry in data.items()}


def _encode(value: Any) -> Any:
    return {"base64": base64.b64encode(value).decode("ascii")} if isinstance(value, bytes) else value


def _decode(value: Any) -> Any:
    return base64.b64decode(value["base64"]) if isinstance(value, dict) else value
