"""The generated compliance documents, in Simplified Chinese and English, as HTML and PDF.

Notices (``notice.required``, ``notice.accessible``), reminder signs with a QR code
(``place.public-signage``), impact assessments (``pia.before-use``), filing dossiers
(``filing.threshold``) and deletion receipts (``consent.withdraw``, ``rights.delete``). All
builders are pure: plain dicts in, a :class:`Document` out.

Each builder takes plain JSON-like dicts (what the service stores and returns) and gives back a
:class:`Document` with its HTML; the PDF is drawn on demand by :meth:`Document.pdf`. Builders do
no I/O and read nothing but their arguments: a document shows the input's data and nothing else.

==================  ===============================  ==========================================
document            builder (module)                 rules (RULES.md)
==================  ===============================  ==========================================
notice              :func:`notice` (notices)         notice.required, notice.accessible
reminder sign       :func:`sign` (signs)             place.public-signage, notice.required
impact assessment   :func:`impact_assessment`        pia.before-use
                    (assessments)
filing dossier      :func:`filing_dossier`           filing.threshold
                    (dossiers)
deletion receipt    :func:`deletion_receipt`         consent.withdraw, rights.delete
                    (receipts)
==================  ===============================  ==========================================

:class:`Document` and the helpers the builders share are in :mod:`~facegate.documents.render`.
"""

from facegate.documents.assessments import impact_assessment
from facegate.documents.dossiers import filing_dossier
from facegate.documents.notices import notice
from facegate.documents.qr import sign_qr
from facegate.documents.receipts import deletion_receipt
from facegate.documents.render import Document
from facegate.documents.signs import sign

__all__ = [
    "Document",
    "deletion_receipt",
    "filing_dossier",
    "impact_assessment",
    "notice",
    "sign",
    "sign_qr",
]
