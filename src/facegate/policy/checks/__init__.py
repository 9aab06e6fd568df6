"""The checks: one function per rule and operation family, registered by rule id.

Each check reads ``Facts`` and the pack's parameters and returns findings; none does I/O. One
module per section of RULES.md holds that section's checks; importing this package registers
them all in the one ``REGISTRY`` (rule id, operations, check), in ``ORDER``.
"""

from __future__ import annotations

from facegate.policy.checks.alternative import (
    alternative_required,
    building_access,
    coercion,
    major_interest,
)
from facegate.policy.checks.assessments import (
    filing_change,
    filing_deregister,
    filing_threshold,
    pia,
)
from facegate.policy.checks.consent import (
    consent_separate,
    guardian,
    lawful_basis,
    notice_accessible,
    notice_shown,
    withdrawn,
)
from facegate.policy.checks.dates import add_months, add_years, age_on
from facegate.policy.checks.keeping import (
    ROLE_PERMISSIONS,
    no_retention,
    on_device,
    retention,
    role_may,
    sensitive,
    separate_identity,
)
from facegate.policy.checks.places import (
    capture_area,
    device_test,
    place_private,
    place_public,
    remote_id,
)
from facegate.policy.checks.purpose import (
    national_channel,
    nonbiometric_preferred,
    purpose_bound,
    purpose_declared,
    rnd_excluded,
)
from facegate.policy.checks.registry import (
    ALL_OPERATIONS,
    MATCHES,
    ORDER,
    REGISTRY,
    USES_TEMPLATE,
    Check,
    check,
    ok,
    refuse,
    warn,
)
from facegate.policy.checks.rights import rights_access, rights_delete

__all__ = [
    "ALL_OPERATIONS", "MATCHES", "ORDER", "REGISTRY", "ROLE_PERMISSIONS", "USES_TEMPLATE",
    "Check", "add_months", "add_years", "age_on", "alternative_required", "building_access",
    "capture_area", "check", "coercion", "consent_separate", "device_test", "filing_change",
    "filing_deregister", "filing_threshold", "guardian", "lawful_basis", "major_interest",
    "national_channel", "no_retention", "nonbiometric_preferred", "notice_accessible",
    "notice_shown", "ok", "on_device", "pia", "place_private", "place_public", "purpose_bound",
    "purpose_declared", "refuse", "remote_id", "retention", "rights_access", "rights_delete",
    "rnd_excluded", "role_may", "sensitive", "separate_identity", "warn", "withdrawn",
]
