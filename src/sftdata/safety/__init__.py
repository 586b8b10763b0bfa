"""Safety: PII redaction and filtering, blocklists, a classifier hook.

>>> import sftdata as sd
>>> sd.safety.redact_pii("reach me at ann@example.com")[0]
'reach me at <EMAIL>'

Row functions: :func:`redact_pii`, :func:`find_pii`, :func:`filter_pii`,
:func:`blocked_terms`, :func:`score_texts`. Batched steps: :class:`PIIFilter`,
:class:`Blocklist`, :class:`ClassifierFilter`. Drop reasons: ``pii.<type>``,
``safety.blocklist:<term id>``, the classifier's ``reason``, and for bad rows
``safety.not_text`` / ``safety.not_messages`` / ``safety.bad_message:<i>``.
"""

from sftdata.safety._blocklist import DEFAULT_TERMS, Blocklist, blocked_terms, normalize
from sftdata.safety._classifier import ClassifierFilter, score_texts
from sftdata.safety._filter import DEFAULT_REDACT, DEFAULT_REJECT, PIIFilter, filter_pii
from sftdata.safety._numbers import VERSION_CUES, iban_ok, luhn_ok
from sftdata.safety._pii import DEFAULT_TAGS, PII_TYPES, PIISpan, PIIType, find_pii, redact_pii

__all__ = [
    "DEFAULT_REDACT",
    "DEFAULT_REJECT",
    "DEFAULT_TAGS",
    "DEFAULT_TERMS",
    "PII_TYPES",
    "VERSION_CUES",
    "Blocklist",
    "ClassifierFilter",
    "PIIFilter",
    "PIISpan",
    "PIIType",
    "blocked_terms",
    "filter_pii",
    "find_pii",
    "iban_ok",
    "luhn_ok",
    "normalize",
    "redact_pii",
    "score_texts",
]
