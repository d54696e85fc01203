"""Report writers on a hand-made BatchReport (no registry needed)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from ocisign.batch import BatchReport, LineResult, Status
from ocisign.cli.reports import CSV_HEADER, output_document, report_path, write_report
from ocisign.formats import ImageResult
from ocisign.oci import Platform


def _report() -> BatchReport:
    good = ImageResult(Status.PASSED, "r/a@sha256:1", "sha256:1",
                       media_type="application/vnd.oci.image.manifest.v1+json",
                       platform=Platform("arm64", "linux", "v8"), kind="sigstore",
                       signature_format="sigstore", payload='{"critical":{}}', signer="k.pub")
    bad = ImageResult(Status.FAILED, "r/b@sha256:2", "sha256:2", "integrity validation failed",
                      "VerificationError", media_type="application/vnd.oci.image.manifest.v1+json",
                      kind="notation")
    return BatchReport([
        LineResult("r/a:v1", 1, Status.PASSED,
                   outcomes=[good]),
        LineResult("r/b:v1", 2, Status.FAILED, error="r/b@sha256:2: integrity validation failed",
                   outcomes=[bad], error_kind="VerificationError"),
        LineResult("r/c:v1", 3, Status.FAILED, error="not found", hint="check the name"),
    ], 0.5)


def test_json_yaml_csv(tmp_path: Path) -> None:
    report = _report()
    for fmt in ("json", "yaml", "csv"):
        write_report(report_path(str(tmp_path / "r.[FORMAT]"), fmt), report, fmt)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [r["reference"] for r in doc["results"]] == ["r/a:v1", "r/b:v1", "r/c:v1"]
    image = doc["results"][0]["images"][0]
    assert image["platform"] == {"arch": "arm64", "os": "linux", "variant": "v8"}
    assert image["payload"] == '{"critical":{}}' and image["status"] == "passed"
    assert doc["results"][1]["images"][0]["reason"] == "integrity validation failed"
    assert doc["results"][2]["reason"] == "not found" and doc["results"][2]["images"] == []
    ydoc = yaml.safe_load((tmp_path / "r.yaml").read_text())
    assert "result" in ydoc and len(ydoc["result"]) == 3
    rows = list(csv.reader((tmp_path / "r.csv").open()))
    assert rows[0] == CSV_HEADER and len(rows) == 4
    first = dict(zip(CSV_HEADER, rows[1], strict=True))
    assert (first["image"], first["arch"], first["variant"], first["signer"]) == (
        "r/a:v1", "arm64", "v8", "k.pub")
    assert dict(zip(CSV_HEADER, rows[3], strict=True))["reason"] == "not found"


def test_output_document() -> None:
    doc = output_document(_report())
    assert doc["summary"]["passed"] == 1 and doc["summary"]["failed"] == 2
    assert doc["results"][2]["hint"] == "check the name"
    assert doc["results"][0]["images"][0]["reference"] == "r/a@sha256:1"
