"""A shard's report, the merge of every shard's newest report, and the progress line with its ETA."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, Final, Literal

Status = Literal["done", "skipped", "failed"]
STATUSES: Final = ("done", "skipped", "failed")
_REPORT_NAME: Final = re.compile(r"shard-(?P<index>\d+)-of-(?P<count>\d+)-(?P<stamp>[0-9TZ]+)\.json")


def item_result(
    item: dict[str, Any], status: Status, *, reason: str | None = None, result: dict[str, Any] | None = None,
    seconds: float = 0.0,
) -> dict[str, Any]:  # fmt: skip
    """One item's line in a report: what it was, what happened and why, what it wrote, how long; with
    `--rig`, what the auto-rig did to it."""
    extra = result or {}
    rig = {"rig": extra["rig"]} if extra.get("rig") is not None else {}
    return {**item, "status": status, "reason": reason, "written": extra.get("written"),
            "bytes": extra.get("bytes"), "seconds": round(seconds, 3), **rig}  # fmt: skip


def shard_report(
    run: str, shard: tuple[int, int], settings: dict[str, Any], items: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    """A shard's report: its run, which shard of how many, the settings its items were done with, each item."""
    index, count = shard
    counts = Counter(i["status"] for i in items)
    return {"run": run, "shard": index, "shards": count, "settings": settings, "seconds": round(seconds, 3),
            "counts": {s: counts.get(s, 0) for s in STATUSES}, "items": items}  # fmt: skip


def parse_report_name(key: str) -> tuple[int, int, str] | None:
    """(index, count, stamp) of a report key, None for anything else."""
    match = _REPORT_NAME.fullmatch(key.rsplit("/", 1)[-1])
    return (int(match["index"]), int(match["count"]), match["stamp"]) if match else None


def per_shard_newest_first(keys: list[str]) -> dict[int, list[str]]:
    """Each shard's reports (a retried shard writes another), newest first, whatever the listing order."""
    found: dict[int, list[tuple[str, str]]] = {}
    for key in keys:
        parsed = parse_report_name(key)
        if parsed is not None:
            found.setdefault(parsed[0], []).append((parsed[2], key))
    return {index: [key for _stamp, key in sorted(reports, reverse=True)] for index, reports in sorted(found.items())}


def _item_problem(item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or item.get("status") not in STATUSES:
        return "an item without a string id and a status"
    for key, kinds in (("reason", (str, type(None))), ("written", (str, type(None))), ("bytes", (int, type(None))),
                       ("seconds", (int, float))):  # fmt: skip
        if not isinstance(item.get(key), kinds) or isinstance(item.get(key), bool):
            return f"item {item['id']!r} has a {key!r} of the wrong type"
    return None


def report_problem(data: Any, run: str, key: str) -> str | None:
    """Why the JSON value stored at `key` is not a report of shard N of `run` (the shard its name says),
    None when it is one. A report copied from another run or shard, or written by hand, must not stand
    in for the shard's own."""
    index, count, _stamp = parse_report_name(key) or (-1, -1, "")
    if not isinstance(data, dict):
        return "not a report (no JSON object)"
    if data.get("run") != run:
        return f"it is a report of run {str(data.get('run'))[:80]!r}, not {run!r}"
    if data.get("shard") != index or data.get("shards") != count:
        said = f"{str(data.get('shard'))[:20]} of {str(data.get('shards'))[:20]}"
        return f"it says shard {said}; its name, {index} of {count}"
    if not isinstance(data.get("items"), list):
        return "it has no list of items"
    return next(filter(None, map(_item_problem, data["items"])), None)


def pick(run: str, keys: list[str], read: Callable[[str], Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Each shard's newest report that is one (`report_problem`), and why each newer one was passed over.
    `read` returns a key's JSON value, or raises ValueError with a one-line reason."""
    chosen: list[dict[str, Any]] = []
    ignored: list[str] = []
    for candidates in per_shard_newest_first(keys).values():
        for key in candidates:
            try:
                data = read(key)
            except ValueError as exc:
                problem: str | None = str(exc)
            else:
                problem = report_problem(data, run, key)
            if problem is None:
                chosen.append(data)
                break
            ignored.append(f"{key}: {problem}")
    return chosen, ignored


def merge(run: str, reports: list[dict[str, Any]], ignored: list[str] | None = None) -> dict[str, Any]:
    """One report for the run: every item once, the shards that never reported, the stored reports that
    were not taken (`pick`), and the totals. A run with an ignored report is not ok: a person looks."""
    ignored = ignored or []
    count = max((int(r["shards"]) for r in reports), default=0)
    items = sorted((item for r in reports for item in r["items"]), key=lambda i: str(i["id"]))
    seen = Counter(str(i["id"]) for i in items)
    counts = Counter(i["status"] for i in items)
    totals: dict[str, Any] = {s: counts.get(s, 0) for s in STATUSES}
    totals |= {"items": len(items), "bytes": sum(i["bytes"] or 0 for i in items if i["status"] == "done"),
               "seconds": round(sum(float(i["seconds"]) for i in items), 3)}  # fmt: skip
    return {
        "run": run,
        "shards": count,
        "missing_shards": sorted(set(range(count)) - {int(r["shard"]) for r in reports}),
        "duplicates": sorted(k for k, n in seen.items() if n > 1),
        "ignored": ignored,
        "ok": totals["failed"] == 0
        and count > 0
        and len(reports) == count
        and not any(n > 1 for n in seen.values())
        and not ignored,
        "totals": totals,
        "items": items,
    }


def _size(count: Any) -> str:
    return f"{count / 1e6:.2f} MB" if count else "-"


def reason(item: dict[str, Any]) -> str:
    """Why an item was skipped or failed, for a line that names it already: a model's own conversion begins
    its reason with the model's name ("chair.glb: not a standing humanoid: ..."), kept in the report."""
    why: str = item["reason"] or ""
    return why.removeprefix(f"{PurePosixPath(item['id']).name}: ")


def lines(merged: dict[str, Any]) -> list[str]:
    out = []
    for item in merged["items"]:
        where = item.get("written") or ""
        detail = reason(item) if item["status"] != "done" else f"{where} ({_size(item['bytes'])})"
        out.append(f"{item['status']:<8} {item['id']}: {detail} [{item['seconds']:.1f} s]")
    if merged["missing_shards"]:
        out.append(f"missing: no report from shard(s) {', '.join(map(str, merged['missing_shards']))}")
    out += [f"ignored: {why}" for why in merged["ignored"]]
    if merged["duplicates"]:
        out.append(f"duplicates: {', '.join(merged['duplicates'])} reported by more than one shard")
    t = merged["totals"]
    out.append(
        f"total: {t['items']} item(s) in {merged['shards']} shard(s): {t['done']} done, {t['skipped']} skipped, "
        f"{t['failed']} failed; {_size(t['bytes'])} written; {t['seconds']:.1f} s of work"
    )
    return out


def eta_seconds(finished: int, total: int, elapsed: float) -> float | None:
    """The time left at the mean pace so far; None before the first item finishes."""
    return elapsed / finished * (total - finished) if finished else None


def progress_line(finished: int, total: int, elapsed: float, current: str, width: int = 24) -> str:
    filled = int(width * finished / total) if total else width
    eta = eta_seconds(finished, total, elapsed)
    left = f"ETA {int(eta) // 60:d}:{int(eta) % 60:02d}" if eta is not None else "ETA --:--"
    return f"[{'#' * filled}{'.' * (width - filled)}] {finished}/{total} {left} {current}"


def encode(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()
