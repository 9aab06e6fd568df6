"""The served API keeps the promises of its OpenAPI document, for each role: schemathesis
generates a few valid and invalid requests for every operation in ``/openapi.json`` as an
officer, an operator, an auditor and without a key, and no response may be a server error or
differ from the document (status code, content type, body schema, headers).

The full-size run is ``python -m stress.schema_roles --max-examples 100 --seed 1``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from stress.schema_roles import run_roles, world_served

from facegate.api.errors import COMMON

MAX_EXAMPLES = 3


@pytest.fixture(scope="module")
def served_world() -> Iterator[tuple[str, Any, dict[str, str]]]:
    with world_served() as served:
        yield served


def test_every_operation_conforms_to_the_openapi_document_for_each_role(
        served_world: tuple[str, Any, dict[str, str]]) -> None:
    base, world, keys = served_world
    out = io.StringIO()
    doc = httpx.get(base + "/openapi.json", timeout=30).json()
    listed = {f"{method.upper()} {path}" for path, ops in doc["paths"].items()
              for method in ops}
    operations, reports = run_roles(base, world, keys, MAX_EXAMPLES, seed=1, out=out)
    print(out.getvalue())
    assert set(operations) == listed
    problems = []
    for report in reports:
        if report.operations != listed:
            problems.append(f"{report.role}: not covered: {sorted(listed - report.operations)}")
        if report.server_errors or report.mismatches:
            problems.append(f"{report.role}: {report.server_errors} server errors, "
                            f"{report.mismatches} mismatches: {dict(report.problems)}")
    # Each role reached more than its refusals: some of its requests were allowed.
    allowed = {r.role: sum(n for s, n in r.statuses.items() if s < 300) for r in reports}
    assert all(allowed[role] for role in ("officer", "operator", "auditor")), allowed
    assert not problems, "\n".join(problems)


def test_error_bodies_are_documented_in_one_shape(
        served_world: tuple[str, Any, dict[str, str]]) -> None:
    base, _, keys = served_world
    doc = httpx.get(base + "/openapi.json", timeout=30).json()
    r = httpx.post(base + "/v1/subjects", json={"ref": ""}, timeout=30)
    bad = httpx.post(base + "/v1/subjects", json={"ref": ""}, timeout=30,
                     headers={"X-API-Key": keys["officer"]})
    gone = httpx.get(base + "/v1/nowhere", timeout=30)
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["BadInputOut"]["properties"]) >= {"error", "message", "problems"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {str(c) for c in COMMON} <= codes, f"{method} {path}"
            if method != "get":
                assert "413" in codes, f"{method} {path}"
    assert r.status_code == 401 and r.json()["rules"] == ["security.controls"]
    assert bad.status_code == 422 and bad.json()["error"] == "bad_input"
    assert bad.json()["problems"] == ["body.ref: String should have at least 1 character"]
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"
