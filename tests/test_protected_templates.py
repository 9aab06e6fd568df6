"""Protected templates (ISO/IEC 24745): what enters a 1:N index is the template turned by a
secret orthogonal rotation of its deployment and epoch. Scores are unchanged; vectors of two
deployments (or of an index and any plain template) cannot be compared; re-keying a deployment
gives new vectors and keeps every score."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray
from tests.conftest import ID02, JOLIE, OFFICER, OPERATOR, photo, running

from facegate.api.app import create_app
from facegate.crypto import KeyRing
from facegate.crypto.keys import MasterKey
from facegate.engine import Engine
from facegate.errors import Refused
from facegate.images import decode_image
from facegate.index import ExactIndex
from facegate.index.protected import ProtectedIndex, rotation
from facegate.service import Actor, Facegate

DIM = 128


@pytest.fixture()
def keyring() -> KeyRing:
    return KeyRing(MasterKey(bytes(range(32)), "test"))


def template(engine: Engine, rel: str) -> NDArray[np.float32]:
    faces = engine.analyse(decode_image(photo(rel)))
    assert faces and faces[0].embedding is not None
    return np.asarray(faces[0].embedding, dtype=np.float32)


def cos(a: NDArray[Any], b: NDArray[Any]) -> float:
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64)))


def test_the_rotation_is_orthogonal_secret_and_renewable(keyring: KeyRing) -> None:
    r = rotation(keyring.index_seed("door", 0), DIM)
    assert r.shape == (DIM, DIM)
    assert np.abs(r @ r.T - np.eye(DIM)).max() < 1e-6
    assert np.abs(r.T @ r - np.eye(DIM)).max() < 1e-6
    assert np.abs(r - np.eye(DIM)).max() > 0.1  # not the identity
    # Deterministic per (deployment, epoch): every process derives the same one.
    again = KeyRing(MasterKey(bytes(range(32)), "test"))
    assert np.array_equal(rotation(again.index_seed("door", 0), DIM), r)
    # Different for another deployment, another epoch, another master key.
    other_key = KeyRing(MasterKey(bytes(32), "test"))
    for seed in (keyring.index_seed("lobby", 0), keyring.index_seed("door", 1),
                 other_key.index_seed("door", 0)):
        assert np.abs(rotation(seed, DIM) - r).max() > 0.1
    assert keyring.index_seed("door", 0) != keyring.index_seed("door", 1)
    assert len(keyring.index_seed("door", 0)) == 32


def test_the_protected_index_keeps_every_score(keyring: KeyRing, engine: Engine) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((40, engine.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    jolie, jolie2, other = (template(engine, p) for p in (JOLIE[0], JOLIE[1], ID02[0]))
    plain = ExactIndex(engine.dim)
    protected = ProtectedIndex(ExactIndex(engine.dim),
                               rotation(keyring.index_seed("door", 0), engine.dim))
    rows = [*vectors, jolie, other]
    for i, v in enumerate(rows):
        plain.add(f"t{i}", f"s{i}", v)
        protected.add(f"t{i}", f"s{i}", v)
    assert len(protected) == len(rows) and protected.subjects() == plain.subjects()
    for probe in (jolie2, other, vectors[3]):
        want = plain.search(probe, 10)
        got = protected.search(probe, 10)
        assert [h.subject_id for h in got] == [h.subject_id for h in want]
        for g, w in zip(got, want, strict=True):
            assert abs(g.score - w.score) < 1e-5
    assert protected.search(jolie2, 1)[0].subject_id == f"s{len(vectors)}"  # the real pair
    # What the inner index holds is not the template: a plain probe finds no match there.
    (inner_best,) = protected.inner.search(jolie2, 1)
    assert abs(inner_best.score) < 0.5
    assert protected.remove_subject(f"s{len(vectors)}") == 1
    assert protected.search(jolie2, 1)[0].subject_id != f"s{len(vectors)}"


def test_vectors_of_two_deployments_cannot_be_compared(keyring: KeyRing,
                                                       engine: Engine) -> None:
    jolie = template(engine, JOLIE[0])
    at = {name: rotation(keyring.index_seed(dep, epoch), engine.dim) @ jolie
          for name, (dep, epoch) in {"door": ("door", 0), "lobby": ("lobby", 0),
                                     "door-renewed": ("door", 1)}.items()}
    # Each protected vector is the same length and as far from the plain template as from
    # any other deployment's: |cos| near 1/sqrt(dim), far from a match.
    for name, v in at.items():
        assert abs(np.linalg.norm(v) - np.linalg.norm(jolie)) < 1e-5
        assert abs(cos(v, jolie)) < 0.3, name
    assert abs(cos(at["door"], at["lobby"])) < 0.3
    assert abs(cos(at["door"], at["door-renewed"])) < 0.3


def row_of(index: ProtectedIndex) -> NDArray[np.float64]:
    """The one vector the inner index holds, read through its own search: its score against
    each basis vector is that coordinate."""
    assert len(index) == 1
    eye = np.eye(index.dim, dtype=np.float32)
    return np.array([index.inner.search(eye[i], 1)[0].score for i in range(index.dim)])


def enrol(service: Facegate, dep: str, ref: str, rel: str) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    service.matching.enrol(OPERATOR, sid, dep, [photo(rel)])
    return sid


def best(service: Facegate, dep: str, rel: str) -> tuple[str, float]:
    (c, *_) = service.matching.identify(OPERATOR, dep, photo(rel))["candidates"]
    return str(c["subject"]), float(c["score"])


@pytest.fixture()
def second(service: Facegate, engine: Engine) -> Iterator[Facegate]:
    """Another process on the same store and master key."""
    other = Facegate(service.settings, engine)
    yield other
    other.close()


def test_rekey_renews_the_index_and_keeps_the_scores(service: Facegate, second: Facegate,
                                                     door: str, engine: Engine) -> None:
    registry = service.engines.indexes
    sid = enrol(service, door, "PT-1", JOLIE[0])
    assert best(service, door, JOLIE[1])[0] == sid
    found, score = best(second, door, JOLIE[1])
    assert found == sid
    (index,) = registry.held(door)
    before = row_of(index)
    (elsewhere,) = second.engines.indexes.held(door)
    assert np.allclose(row_of(elsewhere), before, atol=1e-6)  # same key, same rotation
    r0 = registry.rotation(door, 0, engine.dim)
    plain = r0.T @ before
    # The service's master key is random per run, so these rotations are too. The cosine of a
    # vector and its random rotation has a standard deviation of about 0.1 at dim 128 (20,000
    # draws); a bound of 0.3 failed one run in 600, 0.5 (five deviations) about one in 10^6.
    # A match scores > 0.9.
    assert abs(cos(before, template(engine, JOLIE[0]))) < 0.5  # the index holds no template
    assert cos(plain, template(engine, JOLIE[0])) > 0.9  # but the rotated one

    with pytest.raises(Refused):
        service.engines.rekey(OPERATOR, door)
    out = service.engines.rekey(OFFICER, door)
    assert out == {"deployment": door, "epoch": 1, "previous_epoch": 0}
    assert registry.held(door) == []  # dropped here at once

    assert best(service, door, JOLIE[1]) == (sid, pytest.approx(score, abs=1e-5))
    (index,) = registry.held(door)
    after = row_of(index)
    assert abs(cos(after, before)) < 0.5  # the old vectors are worthless (bound: see above)
    assert np.allclose(after, registry.rotation(door, 1, engine.dim) @ plain, atol=1e-5)
    # The other process rebuilds too (the deployment's index generation moved).
    assert best(second, door, JOLIE[1]) == (sid, pytest.approx(score, abs=1e-5))
    (elsewhere,) = second.engines.indexes.held(door)
    assert np.allclose(row_of(elsewhere), after, atol=1e-6)
    assert service.deployments.get(OFFICER, door) is not None

    trail = service.audit.tail(OFFICER, 200)
    (refused,) = [r for r in trail if r["decision"] == "refused"
                  and (r.get("detail") or {}).get("requested") == "engine.rekey"]
    assert refused["rules"] == ["security.controls"] and refused["actor"] == OPERATOR.name
    (done,) = [r for r in trail if r["operation"] == "engine.rekey"]
    assert done["decision"] == "allowed"
    assert "security.controls" in done["rules"] and done["deployment"] == door
    assert done["detail"] == {"epoch_from": 0, "epoch_to": 1}
    assert service.engines.rekey(OFFICER, door)["epoch"] == 2
    assert service.audit.verify(OFFICER)["ok"]


def test_rekey_over_http(service: Facegate, door: str) -> None:
    admin = Actor("admin", "admin")
    off = {"X-API-Key": service.keys.create(admin, "off", "officer")["key"]}
    op = {"X-API-Key": service.keys.create(admin, "op", "operator")["key"]}
    for base in running(create_app(service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, timeout=120) as c:
            r = c.post(f"/v1/deployments/{door}/rekey", headers=op)
            assert r.status_code == 403 and r.json()["rules"] == ["security.controls"]
            r = c.post(f"/v1/deployments/{door}/rekey", headers=off)
            assert r.status_code == 200, r.text
            assert r.json() == {"deployment": door, "epoch": 1, "previous_epoch": 0}
            r = c.post("/v1/deployments/nowhere/rekey", headers=off)
            assert r.status_code == 404, r.text
