"""Detectors for secrets: cloud keys, service tokens, private keys, JWTs, password assignments.

Each hit is ``(start, end, detail)`` where ``detail`` names the kind of secret
(``aws_access_key``, ``github_token``, ``private_key``, ``jwt``, ``assignment`` ...).
For ``password=...``-style assignments only the value is a hit: the key name stays
readable after redaction (``password=<SECRET>``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re

Hit = tuple[int, int, str]

_BOUNDARY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_E = r"(?![A-Za-z0-9_-])"

# (detail, literal every match contains, pattern) for tokens with a recognisable shape.
# Patterns start with a literal (fast to search for); the start boundary is checked in
# Python, and the literal lets a text skip the pattern altogether.
_TOKENS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (name, literals, re.compile(pattern))
    for name, literals, pattern in (
        ("aws_access_key", ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA"),
         rf"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{{16}}{_E}"),
        ("github_token", ("gh",), rf"gh[pousr]_[A-Za-z0-9]{{36,251}}{_E}"),
        ("github_token", ("github_pat_",), rf"github_pat_[A-Za-z0-9_]{{22,251}}{_E}"),
        ("slack_token", ("xox",), rf"xox[abposr]-(?:[A-Za-z0-9]{{2,48}}-){{1,4}}[A-Za-z0-9]{{6,64}}{_E}"),
        ("slack_webhook", ("hooks.slack.com",),
         r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{16,32}"),
        ("openai_key", ("sk-",), rf"sk-(?:(?:proj|svcacct|admin|ant)-)?[A-Za-z0-9_-]{{20,200}}{_E}"),
        ("stripe_key", ("k_live_", "k_test_"), rf"[rs]k_(?:live|test)_[A-Za-z0-9]{{16,99}}{_E}"),
        ("google_api_key", ("AIza",), rf"AIza[A-Za-z0-9_-]{{35}}{_E}"),
        ("jwt", ("eyJ",), rf"eyJ[A-Za-z0-9_-]{{8,2000}}\.eyJ[A-Za-z0-9_-]{{8,4000}}\.[A-Za-z0-9_-]{{8,2000}}{_E}"),
    )
)  # fmt: skip

_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----")
# the lines of a truncated block: base64, or PEM headers such as "Proc-Type: 4,ENCRYPTED"
_PEM_BODY = re.compile(
    r"(?:[ \t]*(?:[A-Za-z0-9+/=]{1,200}|[A-Za-z-]{1,30}: [^\n]{0,200})?[ \t]*(?:\r?\n|$)){0,400}"
)
_PEM_MAX = 20_000

_KEY_WORDS = (
    r"password|passwd|passphrase|secret|secret_?key|client_?secret|api_?key|apikey"
    r"|access_?key|access_?token|auth_?token|private_?key|token"
)
# a key ending in one of the words (DB_PASSWORD, "api_key"), then = or :, then the value
_ASSIGN = re.compile(
    r"(?:" + _KEY_WORDS + r")[\"']?[ \t]{0,3}"
    r"(?P<sep>:=|=>|=|:)[ \t]{0,3}(?:(?P<q>[\"'])(?P<qv>[^\"'\r\n]{1,200})(?P=q)"
    r"|(?P<v>[^\s\"',;]{1,200}))",
    re.IGNORECASE,
)
_CODE_VALUE = re.compile(r"[()\[\]{}]")
_NAME_VALUE = re.compile(r"[A-Za-z_]+|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_PLACEHOLDER = re.compile(r"[*xX.•_-]+|[$<{%].*|(?i:null|none|true|false|redacted|changeme)")


def _token_ok(detail: str, value: str) -> bool:
    if detail == "openai_key":
        body = value.rsplit("-", 1)[-1] if value.count("-") > 1 else value[3:]
        return _mixed(body)
    if detail == "jwt":
        return _jwt_header_ok(value.split(".", 1)[0])
    return True


def _mixed(body: str) -> bool:
    """Random-looking: a digit, an upper and a lower case letter (``sk-learn-...`` is prose)."""
    return (
        any(c.isdigit() for c in body)
        and any(c.isupper() for c in body)
        and any(c.islower() for c in body)
    )


def _jwt_header_ok(header: str) -> bool:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


def _private_keys(text: str) -> list[Hit]:
    """BEGIN ... END blocks; a block without its END runs over the base64 lines after it."""
    hits: list[Hit] = []
    pos = 0
    while (m := _PEM_BEGIN.search(text, pos)) is not None:
        end_marker = f"-----END {m.group(1)}PRIVATE KEY"
        nxt = text.find("-----BEGIN ", m.end(), m.end() + _PEM_MAX)  # bounds the END search
        end = text.find(end_marker, m.end(), nxt if nxt >= 0 else m.end() + _PEM_MAX)
        if end >= 0:
            stop = text.find("-----", end + len(end_marker), end + len(end_marker) + 12)
            stop = stop + 5 if stop >= 0 else end + len(end_marker)
        else:
            body = _PEM_BODY.match(text, m.end())
            stop = body.end() if body else m.end()
            while stop > m.end() and text[stop - 1].isspace():
                stop -= 1
        hits.append((m.start(), stop, "private_key"))
        pos = max(stop, m.end())
    return hits


def _assignments(text: str) -> list[Hit]:
    """Values of ``key = value`` / ``"key": "value"`` where the key names a secret.

    An unquoted value that reads as code or prose is not a secret: a bare word
    (``password: required``, ``token = token``), a dotted name
    (``settings.SECRET_KEY``), or an expression with brackets (``get_key()``,
    ``request.form['password']``). Quoted values count unless they are placeholders
    (``"****"``, ``"${DB_PASSWORD}"``, ``"<password>"``).
    """
    hits: list[Hit] = []
    for m in _ASSIGN.finditer(text):
        quoted = m.group("qv") is not None
        group = "qv" if quoted else "v"
        value = m.group(group)
        if _PLACEHOLDER.fullmatch(value) or len(value) < 4:
            continue
        if not quoted and (_CODE_VALUE.search(value) or _NAME_VALUE.fullmatch(value)):
            continue
        hits.append((m.start(group), m.end(group), "assignment"))
    return hits


def find_secrets(text: str) -> list[Hit]:
    """All secret hits in ``text``, sorted by start; overlapping hits are kept for the caller.

    >>> find_secrets("key AKIAIOSFODNN7EXAMPLE and password=hunter22")
    [(4, 24, 'aws_access_key'), (38, 46, 'assignment')]
    """
    hits = _private_keys(text) if "PRIVATE KEY" in text else []
    for detail, literals, pattern in _TOKENS:
        if any(lit in text for lit in literals):
            hits += [
                (m.start(), m.end(), detail)
                for m in pattern.finditer(text)
                if (m.start() == 0 or text[m.start() - 1] not in _BOUNDARY)
                and _token_ok(detail, m.group())
            ]
    if "=" in text or ":" in text:
        hits += _assignments(text)
    return sorted(hits)
