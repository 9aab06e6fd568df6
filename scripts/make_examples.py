"""Generate the documents of every example in ``examples/``: register the deployment in a
throwaway data directory, record its impact assessment, and render its notice, impact
assessment report and (where it fits) reminder sign, filing dossier and deletion receipt.

    .venv/bin/python scripts/make_examples.py            # all examples
    .venv/bin/python scripts/make_examples.py school-gate

The day of processing is fixed (``AS_OF``) so that the documents do not change from run to run.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from facegate.crypto.signing import signing_key_file
from facegate.documents import Document
from facegate.service import Actor, Facegate, Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
AS_OF = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
OFFICER = Actor("examples", "officer")
# The examples' checkpoint signing key: public, for examples only, never for an installation.
EXAMPLE_SIGNING_KEY = base64.b64encode(b"facegate examples: not a secret!").decode()
# Documents beyond the notice and the assessment report, per example.
EXTRA: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "public-square": [("sign", {"size": "A3"}), ("filing", {})],
    "hotel-checkin": [("sign", {"size": "A4"})],
    "school-gate": [("receipt", {})],
}


RECEIPTS: dict[str, dict[str, Any]] = {}  # the receipts behind the receipt documents


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def build(name: str, data_dir: Path) -> dict[str, Document]:
    """Every document of one example, keyed by its file name."""
    folder = EXAMPLES / name
    settings = Settings(data_dir=data_dir, clock=lambda: AS_OF,
                        rule_pack=load(folder / "deployment.yaml").get("rule_pack")
                        or "cn-draft-2023",
                        public_url="https://facegate.example")
    key = signing_key_file(data_dir)
    if not key.exists():  # a fixed, published key, so a dossier's checkpoint never changes
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(EXAMPLE_SIGNING_KEY + "\n")
        key.chmod(0o600)
    Facegate.initialise(settings)
    service = Facegate(settings)
    try:
        dep = service.deployments.apply(OFFICER, load(folder / "deployment.yaml"))["id"]
        service.assessments.record(OFFICER, dep, load(folder / "assessment.yaml"))
        docs: dict[str, Document] = {}
        for lang in ("zh", "en"):
            docs[f"notice.{lang}.pdf"] = service.documents.make(OFFICER, "notice", dep, lang)
            docs[f"pia.{lang}.pdf"] = service.documents.make(OFFICER, "pia", dep, lang)
        for kind, opts in EXTRA.get(name, []):
            if kind == "sign":
                docs[f"sign.{opts['size']}.pdf"] = service.documents.make(OFFICER, "sign", dep,
                                                                    size=opts["size"])
            elif kind == "filing":
                for lang in ("zh", "en"):
                    docs[f"filing.{lang}.pdf"] = service.documents.make(OFFICER, "filing",
                                                                        lang=lang)
            elif kind == "receipt":
                receipt = _pupil_leaves(service, dep)
                RECEIPTS[name] = receipt
                for lang in ("zh", "en"):
                    docs[f"receipt.{lang}.pdf"] = service.documents.make(OFFICER, "receipt",
                                                                   lang=lang, receipt=receipt)
        docs["notice.zh.html"] = docs["notice.zh.pdf"]
        return docs
    finally:
        service.close()


def _pupil_leaves(service: Facegate, dep: str) -> dict[str, Any]:
    """A pupil's guardian consents, then the pupil leaves the school: the receipt."""
    pupil = service.subjects.add(OFFICER, "pupil-2019-017",
                                datetime(2016, 4, 2).date())["id"]
    service.consents.grant(OFFICER, pupil, dep, "access_control", method="written",
                          guardian_ref="guardian-2019-017", guardian_relationship="mother")
    return service.consents.withdraw(OFFICER, pupil, dep)


def write(name: str, docs: dict[str, Document]) -> list[Path]:
    out = EXAMPLES / name / "documents"
    out.mkdir(exist_ok=True)
    written = []
    for file, doc in sorted(docs.items()):
        path = out / file
        path.write_bytes(doc.html.encode() if file.endswith(".html") else doc.pdf())
        written.append(path)
    if name in RECEIPTS:
        path = out / "receipt.json"
        path.write_text(json.dumps(RECEIPTS[name], indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def main(names: list[str]) -> None:
    names = names or sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("FACEGATE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
        os.environ.setdefault("FACEGATE_SIGNING_KEY_FILE", str(Path(tmp) / "signing.key"))
        for name in names:
            for path in write(name, build(name, Path(tmp) / name)):
                print(path.relative_to(EXAMPLES.parent), path.stat().st_size)


if __name__ == "__main__":
    main(sys.argv[1:])
