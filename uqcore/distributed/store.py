"""The run's folder: ``run.json``, ``units.jsonl``, ``scores/`` and the readable CSV (see
:mod:`uqcore.distributed`)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqcore.distributed.units import Job, UnitResult, unit_id
from uqcore.errors import InputError


# -- the store -------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"cannot store {type(value).__name__} in a unit record")


def _split_arrays(values: Any, arrays: dict[str, np.ndarray], path: str = "") -> Any:
    """``values`` with every numpy array replaced by {"__array__": name}; arrays collected."""
    if isinstance(values, dict):
        return {k: _split_arrays(v, arrays, f"{path}/{k}") for k, v in values.items()}
    if isinstance(values, np.ndarray):
        arrays[path] = values
        return {"__array__": path}
    if isinstance(values, torch.Tensor):
        arrays[path] = values.detach().cpu().numpy()
        return {"__array__": path}
    return values


def _join_arrays(values: Any, arrays: Any) -> Any:
    if isinstance(values, dict):
        if set(values) == {"__array__"}:
            return arrays[values["__array__"]]
        return {k: _join_arrays(v, arrays) for k, v in values.items()}
    return values


def _cell(v: Any) -> Any:
    return "" if v is None else v


class Store:
    """A run's folder: ``run.json``, ``units.jsonl``, ``scores/`` and the readable CSV (``rows``,
    default ``folder/rows.csv``). See the module docstring."""

    def __init__(self, folder: str | Path, rows: str | Path | None = None) -> None:
        self.folder = Path(folder)
        self.rows_path = Path(rows) if rows is not None else self.folder / "rows.csv"
        self.units_path = self.folder / "units.jsonl"
        self.scores = self.folder / "scores"
        self._units = self._rows = self._writer = None
        self._job: Any = None

    # reading
    def _read(self) -> tuple[dict[str, UnitResult], dict[str, str]]:
        """({uid: result}, {uid: its JSON line}) of the units kept; the last line of a unit wins."""
        done: dict[str, UnitResult] = {}
        lines: dict[str, str] = {}
        if not self.units_path.exists():
            return done, lines
        with self.units_path.open() as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                    uid = rec["uid"]
                    result = UnitResult(
                        key=rec["key"], status=rec["status"], values=rec.get("values"), error=rec.get("error")
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill: that unit is not done
                if rec.get("arrays"):
                    npz = self.scores / f"{uid}.npz"
                    if not npz.exists():
                        continue
                    with np.load(npz) as data:
                        result.values = _join_arrays(result.values, {k: data[k] for k in data.files})
                done[uid] = result
                lines[uid] = line if line.endswith("\n") else line + "\n"
        return done, lines

    def open(self, job: Job, keys: Sequence[dict[str, Any]], resume: bool) -> dict[str, UnitResult]:
        """Start (or, with ``resume``, continue) the run of ``job``; the units of ``keys`` already done."""
        info = {"kind": job.kind, **job.run_info()}
        info = json.loads(json.dumps(info, default=_jsonable))
        run_json = self.folder / "run.json"
        if resume and run_json.exists():
            old = json.loads(run_json.read_text())
            diff = [k for k in sorted(set(old) | set(info)) if old.get(k) != info.get(k)]
            if diff:
                raise InputError(
                    f"{self.folder} holds a run with another {', '.join(diff)} "
                    f"({'; '.join(f'{k}: {old.get(k)!r} there, {info.get(k)!r} now' for k in diff)}); "
                    "resume it with the same settings, or use another output (or drop --resume to start afresh)")
        self.folder.mkdir(parents=True, exist_ok=True)
        if not resume:
            self.units_path.unlink(missing_ok=True)
            shutil.rmtree(self.scores, ignore_errors=True)
        run_json.write_text(json.dumps(info, indent=1))
        wanted = {unit_id(k) for k in keys}
        kept, lines = self._read()
        done = {uid: r for uid, r in kept.items() if uid in wanted and r.ok}
        # units.jsonl rewritten with only the units kept (no half-written line, no stale failure)
        tmp = self.units_path.with_name(self.units_path.name + ".tmp")
        tmp.write_text("".join(lines[uid] for uid in kept if kept[uid].ok))
        os.replace(tmp, self.units_path)
        self._job = job
        self.rows_path.parent.mkdir(parents=True, exist_ok=True)
        self._write_rows([done[unit_id(k)] for k in keys if unit_id(k) in done])
        self._units = self.units_path.open("a")
        return done

    # writing
    def _write_rows(self, results: Sequence[UnitResult]) -> None:
        if self._rows is not None:
            self._rows.close()
        tmp = self.rows_path.with_name(self.rows_path.name + ".tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(self._job.columns), extrasaction="ignore")
            writer.writeheader()
            for r in results:
                for row in self._job.rows(r.key, r.values, r.error):
                    writer.writerow({k: _cell(v) for k, v in row.items()})
        os.replace(tmp, self.rows_path)
        self._rows = self.rows_path.open("a", newline="")
        self._writer = csv.DictWriter(self._rows, fieldnames=list(self._job.columns), extrasaction="ignore")

    def add(self, result: UnitResult) -> None:
        """Keep one finished unit: arrays first (atomically), then its line, then its readable rows."""
        uid = unit_id(result.key)
        arrays: dict[str, np.ndarray] = {}
        values = _split_arrays(result.values, arrays)
        if arrays:
            self.scores.mkdir(exist_ok=True)
            tmp = self.scores / f"{uid}.tmp.npz"
            np.savez(tmp, **arrays)
            os.replace(tmp, self.scores / f"{uid}.npz")
        rec = {"uid": uid, "key": result.key, "status": result.status, "error": result.error,
               "values": values, "arrays": bool(arrays)}
        self._units.write(json.dumps(rec, default=_jsonable) + "\n")
        self._units.flush()
        for row in self._job.rows(result.key, result.values, result.error):
            self._writer.writerow({k: _cell(v) for k, v in row.items()})
        self._rows.flush()

    def close(self, results: Sequence[UnitResult] | None = None) -> None:
        """Rewrite the readable CSV in key order (when ``results`` are given) and close the files."""
        if results is not None and self._job is not None:
            self._write_rows(results)
        for fh in (self._units, self._rows):
            if fh is not None:
                fh.close()
        self._units = self._rows = self._writer = None
