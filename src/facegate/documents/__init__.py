"""The generated compliance documents, in Simplified Chinese and English, as HTML and PDF.

Notices (``notice.required``, ``notice.accessible``), reminder signs with a QR code
(``place.public-signage``), impact assessments (``pia.before-use``), filing dossiers
(``filing.threshold``) and deletion receipts (``consent.withdraw``, ``rights.delete``). All
builders are pure: plain dicts in, a :class:`Document` out.
"""

from facegate.documents.qr import sign_qr
from facegate.documents.render import (
    Document,
    deletion_receipt,
    filing_dossier,
    impact_assessment,
    notice,
    sign,
)

__all__ = [
    "Document",
    "deletion_receipt",
    "filing_dossier",
    "impact_assessment",
    "notice",
    "sign",
    "sign_qr",
]
