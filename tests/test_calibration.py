"""Thresholds chosen from a target false-match rate: the protocol code, the calibrated table,
per-deployment FMR targets, and ``facegate engine calibrate`` on real LFW images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import DATA, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.engine.calibration import (
    calibration_table,
    rates,
    read_pairs,
    ten_fold,
    threshold_for_fmr,
)
from facegate.errors import BadInput
from facegate.service import Facegate
from facegate.service.config import CALIBRATION, DEFAULT_FMR, threshold_for

LFW = DATA / "lfw"
KEY = "dlib/dlib_face_recognition_resnet_model_v1"


def test_read_pairs(tmp_path: Path) -> None:
    f = tmp_path / "pairs.txt"
    f.write_text("2 1\nAbel 1 2\nAbel 1 Cain 3\nSeth 2 4\nSeth 1 Enos 1\n")
    pairs = read_pairs(f)
    assert [(p.same, p.fold) for p in pairs] == [(True, 0), (False, 0), (True, 1), (False, 1)]
    assert pairs[1].b == "images/Cain/Cain_0003.jpg"
    f.write_text("2 1\nAbel 1 2\n")
    with pytest.raises(ValueError, match="expected 4 pairs"):
        read_pairs(f)


def test_threshold_for_fmr_and_ten_fold() -> None:
    rng = np.random.default_rng(7)
    impostor = rng.normal(0.5, 0.1, 100_000)
    genuine = rng.normal(0.95, 0.02, 2_000)
    for fmr in (1e-2, 1e-3, 1e-4):
        t = threshold_for_fmr(impostor, fmr)
        measured, fnmr = rates(genuine, impostor, t)
        assert fnmr < 0.01
        assert measured <= fmr and measured >= fmr / 2  # the lowest threshold meeting it
    table = calibration_table(genuine, impostor, (1e-2, 1e-6))
    assert table[0]["resolved"] and not table[1]["resolved"]
    scores = np.concatenate([genuine[:300], impostor[:300]])
    same = np.array([True] * 300 + [False] * 300)
    accs, thresholds = ten_fold(scores, same, np.arange(600) % 10)
    assert len(accs) == 10 and np.mean(accs) > 0.99 and 0.5 < np.mean(thresholds) < 0.95


def test_calibrated_table_is_monotonic() -> None:
    table = CALIBRATION[KEY]
    fmrs = sorted(table, reverse=True)
    assert [table[f] for f in fmrs] == sorted(table[f] for f in fmrs)
    assert threshold_for(KEY, DEFAULT_FMR) == table[DEFAULT_FMR]
    with pytest.raises(KeyError, match=r"calibrated: 0\.01, 0\.001"):
        threshold_for(KEY, 0.005)


def test_deployment_fmr_target_is_stricter(service: Facegate) -> None:
    loose = assessed(service, office_manifest(mode="identify"))
    strict = assessed(service, office_manifest(id="big-gallery", mode="identify",
                                               fmr_target=1e-5))
    for dep in (loose, strict):
        sid = service.subjects.add(OFFICER, f"E-{dep}")["id"]
        service.consents.grant(OFFICER, sid, dep, "access_control")
        service.matching.enrol(OPERATOR, sid, dep, [photo(JOLIE[0])])
    a = service.matching.identify(OPERATOR, loose, photo(JOLIE[1]))
    b = service.matching.identify(OPERATOR, strict, photo(JOLIE[1]))
    table = CALIBRATION[service.recogniser.key]  # the installation's engine
    assert a["threshold"] == table[DEFAULT_FMR] and a["fmr_target"] == DEFAULT_FMR
    assert b["threshold"] == table[1e-5] and b["gallery"] == 1
    assert b["expected_false_matches"] == pytest.approx(1e-5)
    with pytest.raises(BadInput, match="no calibrated threshold"):
        service.deployments.apply(OFFICER, office_manifest(id="odd", fmr_target=0.005))


def test_engine_calibrate_on_real_lfw_images(tmp_path: Path) -> None:
    if not (LFW / "pairs.txt").exists():
        pytest.skip("LFW not found (see ../shared/data/README.md)")
    proc = subprocess.run(
        [sys.executable, "-m", "facegate.cli.main", "--json", "engine", "calibrate",
         "--lfw", str(LFW), "--limit", "30", "--seed", "3", "--workers", "2"],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path / "cache"),
             "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["images"] == 60 and out["impostor"] > out["genuine"] > 0
    assert [r["fmr_target"] for r in out["table"]] == [0.01, 0.001, 0.0001, 1e-05]
    thresholds = [r["threshold"] for r in out["table"]]
    assert thresholds == sorted(thresholds) and 0.2 < thresholds[0] < 0.7
    assert out["engine"] == "sface/face_recognition_sface_2021dec_int8bq"  # the default
    assert any((tmp_path / "cache" / "facegate" / "bench").iterdir())  # templates cached


def test_identify_fmr_keeps_a_strangers_expected_false_matches_below_one_in_a_hundred() -> None:
    from facegate.service.config import MAX_EXPECTED_FALSE_MATCHES, identify_fmr

    key = CALIBRATION["sface/face_recognition_sface_2021dec_int8bq"]
    assert identify_fmr(key, 1) == DEFAULT_FMR  # never looser than the installation's
    assert identify_fmr(key, 5) == 1e-3
    assert identify_fmr(key, 50) == 1e-4
    assert identify_fmr(key, 1_680) == 1e-6
    for gallery in (1, 9, 10, 99, 100, 999, 9_999):
        assert gallery * identify_fmr(key, gallery) < MAX_EXPECTED_FALSE_MATCHES
    assert identify_fmr(key, 100_000) == 1e-6  # the strictest calibrated one; reported as is
    assert identify_fmr({}, 10_000) == DEFAULT_FMR
