"""One operator, however its manifests name it (``filing.threshold``): deployments whose operator
names share a Chinese or English name are counted together, keep one clock and one dossier, and
are found by any of their names; clocks stored under either name keep working."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import ID02, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.engine import Engine
from facegate.errors import NotFound
from facegate.service import Facegate, Settings
from facegate.service.filing import name_key
from facegate.store.models import FilingEvent

EN = "Example Trading Co., Ltd."
ZH = "示例贸易有限公司"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def svc(data_dir: Path, engine: Engine) -> Iterator[Facegate]:
    settings = Settings(data_dir=data_dir, clock=Clock())
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    yield service
    service.close()


def bilingual(dep_id: str, en: str = EN) -> dict[str, Any]:
    raw = office_manifest(id=dep_id)
    raw["operator"] = {**raw["operator"], "name": {"zh": ZH, "en": en}}
    return raw


def enrolled(svc: Facegate, dep: str, ref: str, pic: str) -> None:
    sid = str(svc.subjects.add(OFFICER, ref)["id"])
    svc.consents.grant(OFFICER, sid, dep, svc.deployments.get(OFFICER, dep)["purpose"])
    svc.matching.enrol(OPERATOR, sid, dep, [photo(pic)])


def test_names_compare_after_trimming_spacing_and_case() -> None:
    assert name_key("  Example   Trading Co., LTD. ") == name_key(EN)
    assert name_key("Ｅxample Trading Co., Ltd.") == name_key(EN)  # full-width letter
    assert name_key(ZH) != name_key(EN)


def test_plain_and_bilingual_names_are_one_operator(svc: Facegate) -> None:
    plain = assessed(svc, office_manifest(id="door-plain"))
    both = assessed(svc, bilingual("door-both", en="  example trading co.,  LTD. "))
    enrolled(svc, plain, "E-1", JOLIE[0])
    enrolled(svc, both, "E-2", ID02[0])
    (one,) = svc.filing.statuses(OFFICER)
    assert sorted(one["deployments"]) == sorted([plain, both])
    assert one["persons"] == 2  # counted together, not 1 and 1
    for asked in (EN, ZH, "EXAMPLE TRADING CO., LTD.", f" {ZH} "):
        assert svc.filing.status(OFFICER, asked)["operator"] == one["operator"]
    with pytest.raises(NotFound) as unknown:
        svc.filing.status(OFFICER, "Another Co., Ltd.")
    english, chinese = unknown.value.messages()  # both name the operators there are
    assert one["operator"] in english and one["operator"] in chinese and "现有运营者" in chinese


def test_a_chinese_only_name_joins_through_a_bilingual_one(svc: Facegate) -> None:
    zh_only = office_manifest(id="door-zh")
    zh_only["operator"] = {**zh_only["operator"], "name": ZH}
    assessed(svc, zh_only)
    assessed(svc, office_manifest(id="door-en"))
    assert len(svc.filing.statuses(OFFICER)) == 2  # nothing says they are the same yet
    assessed(svc, bilingual("door-both"))
    (one,) = svc.filing.statuses(OFFICER)
    assert sorted(one["deployments"]) == ["door-both", "door-en", "door-zh"]
    assert svc.filing.status(OFFICER, EN)["operator"] == svc.filing.status(OFFICER, ZH)[
        "operator"]


def test_clocks_stored_under_either_name_are_one_duty(svc: Facegate) -> None:
    assessed(svc, office_manifest(id="door-plain"))
    assessed(svc, bilingual("door-both"))
    with svc.uow() as uow:  # clocks recorded while the names were counted apart
        for name, day in ((ZH, date(2026, 2, 10)), (EN, date(2026, 1, 20))):
            uow.session.add(FilingEvent(kind="filing", operator=name, started_on=day,
                                        detail="recorded earlier",
                                        created_at=datetime(2026, 2, 10, tzinfo=UTC)))
        uow.commit()
    (one,) = svc.filing.statuses(OFFICER)
    (task,) = one["tasks"]
    assert task["started_on"] == "2026-01-20"  # the earliest clock is the duty's
    out = svc.filing.record(OFFICER, "filing", date(2026, 3, 1), "FG-1", operator=ZH)
    assert out["tasks"][0]["filed_on"] == "2026-03-01"
    assert not any(t["overdue"] for t in svc.filing.status(OFFICER, EN)["tasks"])
