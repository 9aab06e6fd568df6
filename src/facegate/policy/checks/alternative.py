"""The alternative, coercion and special transactions (RULES.md):
``alternative.required``, ``alternative.building-access``, ``coercion.prohibited``,
``major-interest.manual-review``."""

from __future__ import annotations

from facegate.policy.checks.registry import MATCHES, blank, check, ok, refuse, warn
from facegate.policy.decision import Finding
from facegate.policy.facts import Facts, Manifest
from facegate.policy.packs import Pack


@check("alternative.required", "deployment.apply")
def alternative_required(f: Facts, p: Pack) -> list[Finding]:
    """A non-biometric alternative (method and description), unless a cited law mandates face
    recognition."""
    m = f.deployment
    if m is None:
        return []
    alt = m.alternative
    if alt is not None and not blank(alt.method) and not blank(alt.description):
        return [ok("alternative.required", f"alternative offered: {alt.method}",
                   f"已提供替代方式：{alt.method}")]
    if not blank(m.legal_basis):
        return [ok("alternative.required",
                   f"no alternative, face recognition mandated by {m.legal_basis}",
                   f"依据{m.legal_basis}，无替代方式")]
    return [refuse("alternative.required",
                   "the deployment names no non-biometric alternative (alternative.method and "
                   "alternative.description)", "部署未提供非生物特征替代方式")]


@check("alternative.building-access", "deployment.apply")
def building_access(f: Facts, p: Pack) -> list[Finding]:
    """At building and residential access points, another way in or out, whatever the legal
    basis."""
    m = f.deployment
    if m is None:
        return []
    places = {m.location.type, m.location.venue} & set(p.params["building_access_locations"])
    if not places:
        return []
    alt = m.alternative
    if alt is None or blank(alt.method) or blank(alt.description):
        return [refuse("alternative.building-access",
                       f"face recognition may not be the only way in or out at "
                       f"{', '.join(sorted(p for p in places if p))}, whatever the legal basis",
                       "建筑物、住宅区出入不得以人脸识别为唯一方式")]
    return [ok("alternative.building-access", f"another way in: {alt.method}",
               "已提供其他出入方式")]


@check("coercion.prohibited", *MATCHES)
def coercion(f: Facts, p: Pack) -> list[Finding]:
    """No re-prompt after a decline in the same transaction; at the draft's listed venues, the
    person's explicit choice per transaction when the venue verifies them to do business.

    ``coercion.prohibited`` (Draft Art. 7, Measures Art. 10) forbids forcing, misleading or
    coercing a person into face verification of their identity "to handle business" or
    "improve service". Two duties follow, with different reach:

    - a recorded decline is honoured wherever it was recorded: once the person declined face
      recognition in a transaction, no face match runs in that transaction (GB/T 35273). This
      holds at every deployment, since only the person's own decline triggers it;
    - at the venues the draft lists (``coercion_venues``: hotels, banks, railway stations,
      airports, sports venues, exhibition halls, museums, art galleries, libraries) face
      verification needs the person's explicit choice for each transaction (a transaction id
      and ``choice=face``), but only where the deployment verifies the person to serve them:
      its purpose is one of ``coercion_purposes`` (identity verification, payment, access to a
      service or the premises, social assistance), or it is undeclared or unknown, which
      cannot show that the rule does not reach it.

    The choice does not govern what is not business with the person: the venue's own staff
    (attendance, internal management), a school's pupils, and public-security identification
    in a public place or at a distance. The station square identifying people on a watch list
    asks no one for a choice; ``place.public-signage`` (necessity, capture area, reminder signs)
    and ``remote-id.restricted`` (basis, time, area and people) govern it instead. Public
    security declared at a counter, neither in a public place nor remote, stays under the
    choice: a business may not escape the rule by naming its check public security.
    """
    m = f.deployment
    if m is None:
        return []
    if f.declined_in_transaction:
        return declined(f)
    venue = m.location.venue
    if venue not in p.params["coercion_venues"]:
        return []
    if not _serves_the_person(m, p):
        return [ok("coercion.prohibited",
                   f"{m.purpose} at a {venue} is not identity verification to do business: "
                   "no per-transaction choice (place.public-signage and remote-id.restricted "
                   "govern public-security identification)",
                   "非为办理业务验证身份，无须逐次选择")]
    if f.choice != "face" or blank(f.transaction):
        return [refuse("coercion.prohibited",
                       f"at a {venue} the person must choose face verification explicitly for "
                       f"each transaction ({m.purpose}: choice=face, with a transaction id)",
                       "在该场所须就每次业务征得个人对人脸识别的明确选择")]
    return [ok("coercion.prohibited", f"the person chose face for {f.transaction}",
               "个人已明确选择人脸识别")]


@check("coercion.prohibited", "kiosk")
def kiosk_no_reprompt(f: Facts, p: Pack) -> list[Finding]:
    """A kiosk offers face recognition again in no transaction the person declined."""
    return declined(f) if f.declined_in_transaction else []


def declined(f: Facts) -> list[Finding]:
    """The refusal of face recognition in a transaction the person declined: no re-prompt."""
    return [refuse("coercion.prohibited",
                   f"the person declined face recognition in transaction {f.transaction}; "
                   "do not prompt again, serve them by the alternative",
                   "个人已在本次业务中拒绝人脸识别，不得再次请求")]


def _serves_the_person(m: Manifest, p: Pack) -> bool:
    """Whether the deployment verifies the person to handle business with them or serve them
    (``coercion.prohibited``); an undeclared or unknown purpose counts as such."""
    if m.purpose == "public_security":
        return not (m.location.public_place or m.remote_identification)
    return m.purpose in p.params["coercion_purposes"] or m.purpose not in p.params["purposes"]


@check("major-interest.manual-review", "verify", "transaction.review")
def major_interest(f: Facts, p: Pack) -> list[Finding]:
    """For major personal interests a match is auxiliary; a named staff member's manual check
    decides."""
    m = f.deployment
    if m is None:
        return []
    major = sorted(set(m.transactions) & set(p.params["major_interest_transactions"]))
    if not major:
        return []
    if f.operation == "verify":
        return [warn("major-interest.manual-review",
                     f"{', '.join(major)}: the face match is auxiliary and approves nothing; a "
                     "named staff member's manual check decides",
                     "涉及重大个人利益：人脸比对仅作辅助，须由具名工作人员人工核验")]
    mc = f.manual_check
    if mc is None or blank(mc.staff) or mc.outcome not in ("confirmed", "rejected"):
        return [refuse("major-interest.manual-review",
                       "the transaction needs a named staff member's manual identity check "
                       "(staff and outcome confirmed|rejected)",
                       "须记录具名工作人员的人工身份核验结果")]
    return [ok("major-interest.manual-review",
               f"manual identity check by {mc.staff}: {mc.outcome}", "已记录人工核验")]
