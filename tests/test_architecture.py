"""The shape of the house, checked from the source: imports flow one way (interfaces ->
service -> policy / engine / store / index / audit, never back), the gate is pure, there are
no import cycles, and files stay readable."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "facegate"
INTERFACES = {"api", "cli", "web", "client"}
# What the interfaces reach only through the use cases (no path to a template but the gate's).
BEHIND_SERVICE = {"store", "index", "audit", "crypto"}
# The gate decides on facts alone: no store, engine, file or network in reach.
IMPURE = {"sqlalchemy", "alembic", "onnxruntime", "dlib", "PIL", "numpy", "httpx", "requests",
          "socket", "subprocess", "shutil", "facegate.store", "facegate.engine",
          "facegate.index", "facegate.audit", "facegate.crypto", "facegate.service",
          "facegate.images", "facegate.documents"}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
            if "migrations" not in p.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``name`` imports (at any depth of its code), absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for a in node.names:  # ``from pkg import submodule`` imports the submodule
                sub = f"{base}.{a.name}"
                out.add(sub if sub in known else base)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def area(module: str) -> str:
    """The top-level part of facegate a module belongs to (``service``, ``api``, ...)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Imports against the direction of flow."""
    out = []
    for src, targets in edges.items():
        for dst in targets:
            if not dst.startswith("facegate."):
                if area(src) == "policy" and dst.split(".")[0] in IMPURE:
                    out.append(f"{src} -> {dst}: the gate is pure")
                continue
            a, b = area(src), area(dst)
            if a == "client" and b != "client":
                out.append(f"{src} -> {dst}: the client imports nothing of the service")
            elif b in INTERFACES and a not in INTERFACES:
                out.append(f"{src} -> {dst}: only interfaces import interfaces")
            elif b == "service" and a not in INTERFACES | {"service"}:
                out.append(f"{src} -> {dst}: the service layer is imported from above only")
            elif a in INTERFACES and b in BEHIND_SERVICE:
                out.append(f"{src} -> {dst}: interfaces reach {b} through the use cases")
            elif a == "policy" and any(dst == m or dst.startswith(m + ".") for m in IMPURE):
                out.append(f"{src} -> {dst}: the gate is pure")
    return sorted(out)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def collapse(edges: dict[str, set[str]], level: Iterable[str]) -> dict[str, set[str]]:
    """The graph between top-level areas."""
    out: dict[str, set[str]] = {area(m) or m: set() for m in level}
    for src, targets in edges.items():
        for dst in targets:
            if dst.startswith("facegate.") and area(dst) != area(src):
                out.setdefault(area(src) or src, set()).add(area(dst))
    return out


def test_imports_flow_one_way() -> None:
    assert violations(graph()) == []


def test_no_import_cycles_between_modules_or_areas() -> None:
    edges = graph()
    assert cycles(edges) == []
    assert cycles(collapse(edges, edges)) == []


def test_the_checks_catch_a_back_edge_and_a_cycle() -> None:
    edges = graph()
    edges["facegate.store.repository"].add("facegate.service.facade")
    edges["facegate.policy.gate"].add("sqlalchemy")
    edges["facegate.service.records"].add("facegate.api.app")
    edges["facegate.client.sync"].add("facegate.errors")
    found = violations(edges)
    assert any(v.startswith("facegate.store.repository -> facegate.service") for v in found)
    assert any(v.startswith("facegate.policy.gate -> sqlalchemy") for v in found)
    assert any(v.startswith("facegate.service.records -> facegate.api") for v in found)
    assert any(v.startswith("facegate.client.sync -> facegate.errors") for v in found)
    assert cycles(collapse(edges, edges))  # service -> store -> service


@pytest.mark.parametrize("use_case", [
    "deployments", "subjects", "consents", "matching", "rights", "assessments", "filing",
    "housekeeping", "audit_queries", "keys", "documents", "dashboard", "engines", "reviews",
    "exports"])
def test_use_cases_are_composed_not_inherited(use_case: str) -> None:
    """Each use case is a class of its own module, inheriting from nothing."""
    tree = ast.parse((PACKAGE / "service" / f"{use_case}.py").read_text(encoding="utf-8"))
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes, f"service/{use_case}.py defines no use case"
    for c in classes:
        assert c.bases == [], f"{use_case}.{c.name} inherits from {ast.unparse(c.bases[0])}"


def test_every_module_says_what_it_is_for_and_stays_readable() -> None:
    files = [*PACKAGE.rglob("*.py"),
             *(SRC.parent / d for d in ("tests", "bench", "scripts", "stress"))]
    paths = [q for f in files for q in ([f] if f.suffix == ".py" else sorted(f.glob("*.py")))]
    long = {str(q.relative_to(SRC.parent)): n for q in paths if "migrations" not in q.parts
            and (n := len(q.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
    bare = [m for m, p in modules().items()
            if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text())) is None]
    assert bare == []


def test_a_use_case_is_built_from_its_collaborators_alone(data_dir: Path) -> None:
    """No facade, no other use case: the unit of work, the gate, the audit log and the clock
    are enough to run the key use cases, and their records join the one audit chain."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import sessionmaker

    from facegate.crypto import KeyRing, load_master_key
    from facegate.errors import Refused
    from facegate.service import Actor, Facegate, Settings
    from facegate.service.audit_log import AuditLog
    from facegate.service.audit_queries import AuditQueries
    from facegate.service.clock import Clock
    from facegate.service.gatekeeper import Gatekeeper
    from facegate.service.keys import Keys
    from facegate.store import db
    from facegate.store.uow import UnitOfWork

    settings = Settings(data_dir=data_dir)
    Facegate.initialise(settings)
    engine = db.make_engine(db.sqlite_url(data_dir))
    sessions = sessionmaker(engine, expire_on_commit=False)
    keyring = KeyRing(load_master_key(data_dir))

    def uow() -> UnitOfWork:
        return UnitOfWork(sessions, keyring)

    clock = Clock(lambda: datetime(2026, 3, 2, 9, tzinfo=UTC), settings.tz)
    audit = AuditLog(uow, clock)
    gate = Gatekeeper(audit, clock, settings.rule_pack)
    keys = Keys(uow=uow, gate=gate, audit=audit, clock=clock)
    trail = AuditQueries(uow=uow, gate=gate, audit=audit, clock=clock)
    admin = Actor("root", "admin")
    made = keys.create(admin, "door-1", "operator")
    assert keys.authenticate(made["key"]) == Actor("key:door-1", "operator")
    with pytest.raises(Refused) as refused:
        keys.create(Actor("key:door-1", "operator"), "mine", "admin")
    assert list(refused.value.rules) == ["security.controls"]
    records = trail.tail(Actor("audit", "auditor"), 5)
    assert [(r["operation"], r["decision"]) for r in records] == [
        ("key.create", "allowed"), ("key.manage", "refused")]
    assert all(r["at"].startswith("2026-03-02") for r in records)
    assert trail.verify(Actor("audit", "auditor"))["ok"]
    engine.dispose()
