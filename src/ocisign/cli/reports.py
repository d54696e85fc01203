"""``validate`` reports: hangar v2's json/yaml/csv files, and the ``--output json`` document.

Field names follow hangar's ``sign validate`` report (``time``, ``results[].reference``,
``images[]`` with ``digest``, ``mediaType``, ``platform``, ``payload`` ...); ocisign adds
``status``, ``kind``, ``signatureFormat``, ``signer``, ``reason`` (and in CSV, these columns
after hangar's).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocisign.batch import BatchReport, Status
from ocisign.errors import UsageError
from ocisign.formats import ImageResult
from ocisign.oci import Platform
from ocisign.util.fs import atomic_write
from ocisign.verify import line_images

FORMATS = ("json", "yaml", "csv")
CSV_HEADER = [
    # hangar v2's columns, in its order
    "image", "arch", "os", "payload", "digest", "tlogVerify", "mediaType",
    "certificateIssuer", "certificateSubject", "githubWorkflowName", "githubWorkflowRef",
    "githubWorkflowRepository", "githubWorkflowSha", "githubWorkflowTrigger",
    # ocisign's
    "status", "kind", "signatureFormat", "signer", "reason", "variant", "osVersion",
]


def _platform(platform: Platform | None) -> dict[str, Any]:
    if platform is None:
        return {}
    out: dict[str, Any] = {"arch": platform.architecture, "os": platform.os}
    if platform.os_version:
        out["osVersion"] = platform.os_version
    if platform.variant:
        out["variant"] = platform.variant
    return out


def image_dict(image: ImageResult) -> dict[str, Any]:
    """One ``images[]`` entry (hangar's keys first, then ocisign's)."""
    out: dict[str, Any] = {
        "digest": image.digest,
        "mediaType": image.media_type,
        "platform": _platform(image.platform),
        "tlogVerified": False,
    }
    if image.kind == "notation" and image.signer:
        out["certificateSubject"] = image.signer
        out["certificateIssuer"] = image.issuer
    out.update(
        payload=image.payload,
        status=image.status.value,
        kind=image.kind,
        signatureFormat=image.signature_format,
        signer=image.signer,
    )
    if image.signing_time:
        out["signingTime"] = image.signing_time
    if image.detail:
        out["reason"] = image.detail
    if image.warnings:
        out["warnings"] = list(image.warnings)
    if image.revocation:
        out["revocation"] = list(image.revocation)
    return out


def report_document(report: BatchReport, *, yaml_keys: bool = False) -> dict[str, Any]:
    """hangar's report shape; YAML names the list ``result`` as hangar does."""
    results = []
    for line in report.results:
        found = line_images(line)
        entry: dict[str, Any] = {"reference": line.line, "status": line.status.value}
        if line.error and not found:
            entry["reason"] = line.error
        entry["images"] = [image_dict(i) for i in found]
        results.append(entry)
    key = "result" if yaml_keys else "results"
    return {"time": datetime.now(UTC).isoformat(timespec="seconds"), key: results}


def csv_text(report: BatchReport) -> str:
    """hangar's CSV (one row per image result; a line without any gets one row)."""
    import csv  # only for a CSV report

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in report.results:
        found = line_images(line)
        if not found:
            row = {"image": line.line, "status": line.status.value, "reason": line.error}
            writer.writerow([row.get(col, "") for col in CSV_HEADER])
            continue
        for image in found:
            plat = image.platform or Platform()
            row = {
                "image": line.line, "arch": plat.architecture, "os": plat.os,
                "payload": image.payload, "digest": image.digest, "tlogVerify": "false",
                "mediaType": image.media_type,
                "certificateIssuer": image.issuer if image.kind == "notation" else "",
                "certificateSubject": image.signer if image.kind == "notation" else "",
                "status": image.status.value, "kind": image.kind,
                "signatureFormat": image.signature_format, "signer": image.signer,
                "reason": image.detail, "variant": plat.variant, "osVersion": plat.os_version,
            }
            writer.writerow([row.get(col, "") for col in CSV_HEADER])
    return buf.getvalue()


def report_path(path: str, fmt: str) -> Path:
    """hangar's ``[FORMAT]`` placeholder in ``-r`` replaced by the format."""
    return Path(path.replace("[FORMAT]", fmt))


def write_report(path: Path, report: BatchReport, fmt: str) -> None:
    """Write the report file (atomically) in ``fmt`` (json, yaml or csv)."""
    if fmt == "json":
        data = json.dumps(report_document(report), indent=2) + "\n"
    elif fmt == "yaml":
        import yaml  # only a YAML report needs it

        data = yaml.safe_dump(report_document(report, yaml_keys=True), sort_keys=False)
    elif fmt == "csv":
        data = csv_text(report)
    else:
        raise UsageError(f"unknown report format {fmt!r}", "use json, yaml or csv")
    atomic_write(path, data.encode())


def output_document(report: BatchReport, failed_file: str | None = None) -> dict[str, Any]:
    """The ``--output json`` document: every line with its status, reason and images."""
    from ocisign.cli._common import line_json, outcome_json

    lines = []
    for line in report.results:
        images = []
        for image in line_images(line):
            extra = image_dict(image)
            extra.pop("reason", None)  # the report file's name for "message"
            images.append({**outcome_json(image), **extra})
        lines.append({**line_json(line), "images": images})
    summary = {s.value: report.count(s) for s in (Status.PASSED, Status.FAILED, Status.SKIPPED)}
    return {"command": "validate", "results": lines,
            "summary": {**summary, "total": len(report.results),
                        "elapsedSeconds": round(report.elapsed, 3), "failedFile": failed_file}}
