"""The CLI as a user runs it: a real process, --data and --json, exit codes 0/2/3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import DEEPFACE, SHARED


@pytest.fixture()
def fg(data_dir: Path):
    def run(*args: str, code: int = 0) -> dict[str, Any]:
        proc = subprocess.run([sys.executable, "-m", "facegate.cli.main", "--data",
                               str(data_dir), "--json", *args],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert proc.returncode == code, (proc.stdout, proc.stderr)
        lines = proc.stdout.strip().splitlines()
        assert len(lines) == 1, proc.stdout  # one JSON object
        return dict(json.loads(lines[0]))
    return run


def test_cli_session(fg, tmp_path: Path) -> None:
    if not DEEPFACE.exists():
        pytest.skip("test photos not found")
    init = fg("init")
    assert {k["role"] for k in init["api_keys"]} == {"officer", "operator", "auditor"}
    manifest = SHARED / "examples" / "office-door.yaml"
    dep = fg("deployment", "apply", str(manifest))
    assert dep["id"] == "hq-office-door" and dep["created"]
    assert fg("deployment", "list")["deployments"][0]["id"] == "hq-office-door"

    bad = yaml.safe_load(manifest.read_text())
    bad["id"], bad["location"]["type"] = "hotel-cam", "hotel_room"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    refused = fg("deployment", "apply", str(tmp_path / "bad.yaml"), code=3)
    assert refused["rules"] == ["place.private-space"]

    sid = fg("subject", "add", "--ref", "E-1001", "--birth-date", "1985-03-02")["id"]
    assert sid.startswith("sub_")
    img = str(DEEPFACE / "id01_angelina_jolie" / "img1.jpg")
    no_consent = fg("enrol", "--subject", sid, "--deployment", "hq-office-door", img, code=3)
    assert no_consent["rules"] == ["consent.separate"]
    fg("consent", "grant", "--subject", sid, "--deployment", "hq-office-door",
       "--purpose", "access_control", "--method", "written")
    enrolled = fg("enrol", "--subject", sid, "--deployment", "hq-office-door", img,
                  str(DEEPFACE / "id01_angelina_jolie" / "img2.jpg"))
    assert len(enrolled["templates"]) == 2
    v = fg("verify", "--subject", sid, "--deployment", "hq-office-door",
           str(DEEPFACE / "id01_angelina_jolie" / "img4.jpg"))
    assert v["match"] is True and v["score"] >= v["threshold"]
    # 1:N is refused at this 1:1 deployment
    assert fg("identify", "--deployment", "hq-office-door", img, code=3)["rules"] == [
        "purpose.bound"]
    assert fg("decline", "--deployment", "hq-office-door")["recorded"]
    assert fg("detect", img, "--attributes", "race", code=3)["rules"] == [
        "attributes.sensitive"]
    receipt = fg("consent", "withdraw", "--subject", sid)
    assert len(receipt["deleted"]["templates"]) == 2
    assert fg("verify", "--subject", sid, "--deployment", "hq-office-door", img,
              code=3)["rules"] == ["consent.separate"]
    assert fg("audit", "verify")["ok"] is True
    ops = [r["operation"] for r in fg("audit", "tail", "-n", "50")["records"]]
    assert {"deployment.apply", "enrol", "verify", "consent.withdraw", "decline"} <= set(ops)


def test_cli_bad_input_exit_2(fg, tmp_path: Path) -> None:
    fg("init")
    (tmp_path / "x.jpg").write_bytes(b"not an image at all")
    dep = fg("deployment", "apply", str(SHARED / "examples" / "office-door.yaml"))
    sid = fg("subject", "add", "--ref", "E-2")["id"]
    fg("consent", "grant", "--subject", sid, "--deployment", dep["id"],
       "--purpose", "access_control")
    out = fg("enrol", "--subject", sid, "--deployment", dep["id"], str(tmp_path / "x.jpg"),
             code=2)
    assert out["error"] == "unsupported_image"
    assert fg("subject", "add", "--ref", "E-3", "--birth-date", "03/02/1985",
              code=2)["error"] == "bad_input"
    assert fg("subject", "show", "sub_nope", code=2)["error"] == "not_found"
    assert fg("frobnicate", code=2)["error"] == "usage"


@pytest.mark.postgres
def test_cli_on_postgresql(fg, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """FACEGATE_DATABASE_URL points the CLI at PostgreSQL; the schema and trail live there."""
    monkeypatch.setenv("FACEGATE_DATABASE_URL", postgres_url)
    init = fg("init")
    assert init["database"] == "external"
    dep = fg("deployment", "apply", str(SHARED / "examples" / "office-door.yaml"))
    assert dep["created"]
    assert fg("audit", "verify")["ok"]
    import sqlalchemy
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as conn:
        ids = conn.execute(sqlalchemy.text("SELECT id FROM deployments")).scalars().all()
    engine.dispose()
    assert ids == ["hq-office-door"]
