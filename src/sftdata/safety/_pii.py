"""``find_pii`` / ``redact_pii``: personal data and secrets in one text, as typed spans.

::

    "mail bob@example.org or call +1 415-555-0123"
          └──── email ────┘         └─ phone ─────┘
    -> "mail <EMAIL> or call <PHONE>"
       spans: [PIISpan("email", 5, 20, ...), PIISpan("phone", 29, 44, ...)]

What each type means (details in each detector's docstring):

===============  ====================================================================
type             rule
===============  ====================================================================
``secret``       AWS / GitHub / Slack / OpenAI-style / Stripe / Google keys by shape,
                 JWTs whose header decodes to JSON with ``alg``, private-key blocks,
                 the value of ``password=`` / ``api_key: ...``-style assignments
``email``        ASCII ``local@domain.tld`` (no IDN; ``icon@2x.png`` is a file name)
``iban``         country code, its registry length, mod-97 checksum; compact or in 4s
``credit_card``  13-19 digits, one separator kind, a card issuer prefix, Luhn check
``ip_address``   dotted quads 0-255 not after a version cue (``version 1.2.3.4`` is
                 kept), IPv6 that :mod:`ipaddress` accepts and that holds a digit
``phone``        what ``phonenumbers`` matches as a valid, strictly grouped number
                 (``region`` gives the country of numbers without ``+<code>``)
===============  ====================================================================

Offsets are ``str`` indices into the *original* text. Spans never overlap: when two
detectors claim the same characters the stronger evidence wins, in the order of
:data:`PII_TYPES` (a secret beats an email beats an IBAN ... beats a phone number).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import phonenumbers

from sftdata._contract import RowError, SftDataError
from sftdata.safety._numbers import find_cards, find_ibans, find_ips, find_phones
from sftdata.safety._secrets import find_secrets

PIIType = Literal["secret", "email", "iban", "credit_card", "ip_address", "phone"]
#: Every PII type, strongest evidence first (the order used to settle overlaps).
PII_TYPES: tuple[PIIType, ...] = get_args(PIIType)

#: The replacement written for each type unless ``tags=`` says otherwise.
DEFAULT_TAGS: dict[str, str] = {
    "secret": "<SECRET>",
    "email": "<EMAIL>",
    "iban": "<IBAN>",
    "credit_card": "<CREDIT_CARD>",
    "ip_address": "<IP_ADDRESS>",
    "phone": "<PHONE>",
}

# ASCII addresses (an apostrophe may sit inside the local part: o'neil@...); the
# look-behind stops a scan from restarting inside a local part.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-][A-Za-z0-9._%+'-]{0,63}(?<!')@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,63}(?![A-Za-z0-9-])"
)


@dataclass(frozen=True)
class PIISpan:
    """One detected item: its type, ``[start, end)`` in the original text, the text, a detail.

    ``detail`` refines the type (``ipv4`` / ``ipv6``; ``aws_access_key``, ``jwt``,
    ``assignment`` ... for secrets).
    """

    type: PIIType
    start: int
    end: int
    text: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Builtins only, for an Arrow column."""
        return {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "detail": self.detail,
        }


#: ``icon@2x.png`` is a file name, not an address.
FILE_SUFFIXES = frozenset(
    [
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "ico",
        "bmp",
        "tif",
        "tiff",
        "pdf",
        "css",
        "js",
        "ts",
        "mp4",
    ]
)


def _emails(text: str) -> list[tuple[int, int, str]]:
    if "@" not in text:
        return []
    return [
        (m.start(), m.end(), "email")
        for m in _EMAIL.finditer(text)
        if m.group().rsplit(".", 1)[1].lower() not in FILE_SUFFIXES
    ]


def _detectors(region: str) -> dict[str, Callable[[str], list[tuple[int, int, str]]]]:
    return {
        "secret": find_secrets,
        "email": _emails,
        "iban": find_ibans,
        "credit_card": find_cards,
        "ip_address": find_ips,
        "phone": lambda t: find_phones(t, region=region),
    }


def _blank(text: str, spans: list[PIISpan]) -> str:
    """``text`` with each span replaced by newlines of the same length (offsets stay valid).

    A number next to a card or an address must still read as a phone number on its own.
    """
    parts: list[str] = []
    pos = 0
    for s in spans:
        parts += [text[pos : s.start], "\n" * (s.end - s.start)]
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)


def check_types(types: Iterable[str], *, what: str = "types") -> tuple[PIIType, ...]:
    """Validate a collection of PII type names; returns them in :data:`PII_TYPES` order."""
    if isinstance(types, str):
        raise SftDataError(f"{what} must be a collection of type names, not the string {types!r}")
    given = set(types)
    unknown = sorted(given - set(PII_TYPES))
    if unknown:
        raise SftDataError(f"{what}: unknown PII type(s) {unknown}; known: {list(PII_TYPES)}")
    return tuple(t for t in PII_TYPES if t in given)


def check_region(region: str) -> None:
    """Raise :class:`SftDataError` unless ``phonenumbers`` knows the region code (``"US"``)."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SftDataError(
            f"region must be a country code phonenumbers knows (e.g. 'US'), got {region!r}"
        )


def check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """``DEFAULT_TAGS`` updated with ``tags``; every key a PII type, every value a string."""
    out = dict(DEFAULT_TAGS)
    if tags is None:
        return out
    check_types(tags, what="tags")
    for k, v in tags.items():
        if not isinstance(v, str):
            raise SftDataError(f"tags[{k!r}] must be a str, got {type(v).__name__}")
        out[k] = v
    return out


def find_pii(text: str, *, types: Iterable[str] = PII_TYPES, region: str = "US") -> list[PIISpan]:
    """Detect PII of ``types`` in ``text``; non-overlapping spans sorted by start.

    ``region`` is the country assumed for phone numbers written without ``+<code>``.

    >>> [(s.type, s.text) for s in find_pii("ip 192.168.0.7, card 4111 1111 1111 1111")]
    [('ip_address', '192.168.0.7'), ('credit_card', '4111 1111 1111 1111')]
    """
    if not isinstance(text, str):
        raise RowError("safety.not_text", f"expected str, got {type(text).__name__}")
    check_region(region)
    wanted = check_types(types)
    detectors = _detectors(region)
    starts: list[int] = []  # accepted spans, kept sorted, for the overlap check
    ends: list[int] = []
    spans: list[PIISpan] = []
    scan = text  # later detectors see accepted spans blanked out
    for kind in wanted:
        before = len(spans)
        for start, end, detail in detectors[kind](scan):
            i = bisect.bisect_right(starts, start)
            if (i > 0 and ends[i - 1] > start) or (i < len(starts) and starts[i] < end):
                continue
            starts.insert(i, start)
            ends.insert(i, end)
            spans.insert(i, PIISpan(kind, start, end, text[start:end], detail))
        if len(spans) > before:
            scan = _blank(text, spans)
    return spans


def redact_spans(text: str, spans: Iterable[PIISpan], tags: Mapping[str, str]) -> str:
    """Replace each span (sorted, non-overlapping) by its tag; text outside spans is kept."""
    parts: list[str] = []
    pos = 0
    for s in spans:
        parts += [text[pos : s.start], tags[s.type]]
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)


def redact_pii(
    text: str,
    *,
    types: Iterable[str] = PII_TYPES,
    tags: Mapping[str, str] | None = None,
    region: str = "US",
) -> tuple[str, list[PIISpan]]:
    """Replace PII in ``text`` by tags; returns ``(redacted, spans)``.

    Spans carry the original offsets, so ``text[s.start:s.end] == s.text``. Text
    outside the spans is returned unchanged. ``tags`` overrides entries of
    :data:`DEFAULT_TAGS`, e.g. ``{"email": "[email]"}``.

    >>> redact_pii("write to ann@example.com, password=s3cr3t!")[0]
    'write to <EMAIL>, password=<SECRET>'
    >>> redact_pii("call (212) 555-0187", tags={"phone": "[tel]"})[0]
    'call [tel]'

    A bare dotted quad is an address, one after a version cue is not::

        >>> redact_pii("host 10.0.0.1 runs version 10.0.0.1")[0]
        'host <IP_ADDRESS> runs version 10.0.0.1'
    """
    full_tags = check_tags(tags)
    spans = find_pii(text, types=types, region=region)
    return redact_spans(text, spans, full_tags), spans
