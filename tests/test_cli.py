"""The CLI as a user runs it: a real process, --data and --json, exit codes 0/2/3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import ASSESSMENT, DEEPFACE, SHARED


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

    pia = tmp_path / "pia.yaml"
    pia.write_text(yaml.safe_dump(ASSESSMENT))
    assert fg("pia", "record", "--deployment", "hq-office-door", str(pia))["version"] == 1
    sid = fg("subject", "add", "--ref", "E-1001", "--birth-date", "1985-03-02")["id"]
    assert sid.startswith("sub_")
    img = str(DEEPFACE / "id01_angelina_jolie" / "img1.jpg")
    no_consent = fg("enrol", "--subject", sid, "--deployment", "hq-office-door", img, code=3)
    assert no_consent["rules"] == ["consent.separate", "consent.lawful-basis"]
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
              code=3)["rules"] == ["consent.withdraw"]
    assert fg("audit", "verify")["ok"] is True
    ops = [r["operation"] for r in fg("audit", "tail", "-n", "50")["records"]]
    assert {"deployment.apply", "enrol", "verify", "consent.withdraw", "decline"} <= set(ops)


def test_cli_bad_input_exit_2(fg, tmp_path: Path) -> None:
    fg("init")
    (tmp_path / "x.jpg").write_bytes(b"not an image at all")
    dep = fg("deployment", "apply", str(SHARED / "examples" / "office-door.yaml"))
    (tmp_path / "pia.yaml").write_text(yaml.safe_dump(ASSESSMENT))
    fg("pia", "record", "--deployment", dep["id"], str(tmp_path / "pia.yaml"))
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


def test_cli_rules_documents_and_duties(fg, tmp_path: Path) -> None:
    """The compliance officer's commands: rules, pack differences, filing, documents."""
    fg("init")
    listed = fg("rules", "list", "--pack", "cn-2025")["rules"]
    assert "notice.accessible" in {r["id"] for r in listed}
    assert "devices.annual-test" not in {r["id"] for r in listed}
    told = fg("rules", "explain", "consent.guardian-under-14")
    assert told["parameters"]["cn-draft-2023"]["guardian_age"] == 14
    assert told["sources"]["cn-2025"].startswith("PIPL Art. 31")
    assert fg("rules", "explain", "no.such-rule", code=2)["error"] == "bad_input"

    square = yaml.safe_load((SHARED / "examples" / "office-door.yaml").read_text())
    square["id"] = "north-square"
    square["location"] = {"type": "square", "venue": "railway_station", "public_place": True,
                          "capture_area": "North square", "signage": "sign-photos-1",
                          "public_security_necessity": "crowd safety"}
    (tmp_path / "square.yaml").write_text(yaml.safe_dump(square))
    draft = fg("deployment", "check", str(tmp_path / "square.yaml"))
    assert "filing.threshold" in draft["warnings"]
    assert "no longer flagged by filing.threshold" in draft["differences"]["cn-2025"]
    final = fg("deployment", "check", str(tmp_path / "square.yaml"), "--pack", "cn-2025")
    assert "filing.threshold" not in final["warnings"]
    assert "flagged by filing.threshold" in final["differences"]["cn-draft-2023"]

    fg("deployment", "apply", str(tmp_path / "square.yaml"))
    (status,) = fg("filing", "status")["operators"]
    assert status["required"] and status["reasons"] == ["public_place:north-square"]
    (task,) = status["tasks"]
    assert task["kind"] == "filing" and task["started_on"] == status["crossed_on"]
    if task.get("due_provisional"):  # the due date lies in a year chinese-calendar lacks
        assert status["warnings"][0]["level"] == "calendar"
        year = int(status["crossed_on"][:4]) + 1
        schedule = tmp_path / "next-year.yaml"  # a made-up schedule, for the test only
        schedule.write_text(yaml.safe_dump({
            "year": year, "source": "test schedule (not the State Council's)",
            "holidays": [f"{year}-01-01"]}))
        assert fg("filing", "calendar", str(schedule))["year"] == year
        (status,) = fg("filing", "status")["operators"]
        (task,) = status["tasks"]
    assert task["due_on"] is not None and task["working_days_left"] > 0
    filed = fg("filing", "record", "--reference", "BA-2026-0042", "--filed-on",
               status["crossed_on"])
    assert filed["tasks"][0]["filed_on"] == status["crossed_on"]
    assert fg("housekeeping")["expired_templates"] == 0

    sign = tmp_path / "sign.pdf"
    assert fg("docs", "make", "sign", "--deployment", "north-square", "--out", str(sign),
              code=2)["rules"] == ["notice.required"]  # FACEGATE_PUBLIC_URL is not set
    made = fg("docs", "make", "sign", "--deployment", "north-square", "--size", "A3",
              "--draft", "--out", str(sign))
    assert made["bytes"] == sign.stat().st_size and sign.read_bytes().startswith(b"%PDF")
    notice = tmp_path / "notice.html"
    fg("docs", "make", "notice", "--deployment", "north-square", "--lang", "en", "--draft",
       "--out", str(notice))
    assert "DRAFT" in notice.read_text()
    assert "Example Trading Co., Ltd." in notice.read_text()
    assert fg("docs", "make", "pia", "--deployment", "north-square", "--out",
              str(tmp_path / "pia.pdf"), code=2)["rules"] == ["pia.before-use"]
    assert fg("docs", "make", "sign", "--deployment", "north-square", "--out",
              str(tmp_path / "sign.txt"), code=2)["error"] == "bad_input"


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
