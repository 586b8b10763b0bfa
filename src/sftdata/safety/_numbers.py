"""Detectors for PII that is a number with structure: cards, IBANs, IPs, phones.

Every detector is a pure function ``text -> list[(start, end, detail)]``. Candidates
may not start inside a run of the same characters (a look-behind, or a check in
Python), and every repetition is bounded, so a scan is linear in the text length: a
10 MB string of digits costs one cheap test per position, never a backtracking storm.
"""

from __future__ import annotations

import ipaddress
import re

import phonenumbers

Hit = tuple[int, int, str]

# --- credit cards -------------------------------------------------------------------

# 13-19 digits, optionally split by single spaces or hyphens.
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?!\d)")

# Issuer prefixes (IIN ranges) of the card networks people actually paste:
# Visa 4, Mastercard 51-55 / 2221-2720, Amex 34 / 37, Discover 6011 / 644-649 / 65,
# JCB 3528-3589, Diners 300-305 / 36 / 38, UnionPay 62.
_CARD_PREFIX = re.compile(
    r"4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|6011|64[4-9]|65"
    r"|35(?:2[89]|[3-8]\d)|30[0-5]|3[68]|62"
)


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` passes the Luhn (mod 10) check used by card numbers.

    >>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
    (True, False)
    """
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_ok(raw: str) -> bool:
    seps = {c for c in raw if c in " -"}
    digits = raw.replace(" ", "").replace("-", "")
    return (
        len(seps) <= 1
        and 13 <= len(digits) <= 19
        and digits.isascii()
        and _CARD_PREFIX.match(digits) is not None
        and luhn_ok(digits)
    )


def _best_card(raw: str) -> tuple[int, int] | None:
    """The longest valid card inside a digit run, made of whole groups of >= 3 digits."""
    if _card_ok(raw):
        return 0, len(raw)
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", raw)]
    if len(groups) > 8:
        return None
    for size in range(len(groups) - 1, 0, -1):
        for i in range(len(groups) - size + 1):
            part = groups[i : i + size]
            if all(e - s >= 3 for s, e in part) and _card_ok(raw[part[0][0] : part[-1][1]]):
                return part[0][0], part[-1][1]
    return None


def find_cards(text: str) -> list[Hit]:
    """Card numbers: 13-19 digits, one kind of separator, a known issuer prefix, Luhn-valid.

    When a run of digit groups fails, its longest valid sub-run of whole groups is
    taken, so a card next to another number (``0 4111 1111 1111 1111``) is still found.
    """
    hits: list[Hit] = []
    pos = 0
    while (m := _CARD.search(text, pos)) is not None:
        found = _best_card(m.group())
        if found is None:  # retry from the next group: a card may start inside this run
            nxt = re.search(r"[ -]", m.group())
            pos = m.start() + nxt.end() if nxt else m.end()
            continue
        hits.append((m.start() + found[0], m.start() + found[1], "card"))
        pos = m.start() + found[1]  # the rest of the run may hold another card
    return hits


# --- IBAN ---------------------------------------------------------------------------

#: IBAN length per country (ISO 13616 registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

# Compact (``DE89370400440532013000``) or printed in groups of four.
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)"
    r"(?![A-Za-z0-9])"
)


def iban_ok(iban: str) -> bool:
    """True when ``iban`` (no spaces) has its country's length and a mod-97 remainder of 1.

    >>> iban_ok("GB82WEST12345698765432"), iban_ok("GB82WEST12345698765433")
    (True, False)
    """
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isascii() or not iban.isalnum():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def find_ibans(text: str) -> list[Hit]:
    """IBANs; a printed IBAN followed by another short group is retried without that group."""
    hits: list[Hit] = []
    pos = 0
    while (m := _IBAN.search(text, pos)) is not None:
        raw = m.group()
        while not iban_ok(raw.replace(" ", "")):
            cut = raw.rfind(" ")
            if cut <= 4:
                raw = ""
                break
            raw = raw[:cut]
        if raw:
            hits.append((m.start(), m.start() + len(raw), "iban"))
        pos = m.start() + len(raw) if raw else m.end()
    return hits


# --- IP addresses -------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Candidates start with a digit (a fast scan); boundaries are checked in Python.
_IPV4_CANDIDATE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}", re.ASCII)
_IPV6 = re.compile(
    r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?(?![\w:]|\.\d)",
    re.ASCII,
)

#: A dotted quad right after one of these words is a version number, not an address.
VERSION_CUES = frozenset(
    [
        "version",
        "versions",
        "ver",
        "v",
        "release",
        "rel",
        "build",
        "rev",
        "revision",
        "patch",
        "update",
        "firmware",
        "driver",
        "kernel",
        "python",
        "node",
        "java",
        "api",
        "sdk",
        "section",
        "chapter",
        "clause",
        "oid",
    ]
)
_PREV_WORD = re.compile(r"([A-Za-z]{1,12})\.?[ \t:#]{0,3}$")


def _is_version(text: str, start: int) -> bool:
    m = _PREV_WORD.search(text[max(0, start - 20) : start])
    return m is not None and m.group(1).lower() in VERSION_CUES


def find_ips(text: str) -> list[Hit]:
    """IPv4 and IPv6 addresses.

    IPv4 rule: four dot-separated decimal octets 0-255 (no leading zeros), not part of
    a longer dotted run (``1.2.3.4.5`` is not an address), and not right after a
    version cue: ``v1.2.3.4``, ``version 1.2.3.4``, ``build: 10.0.19041.1`` are version
    numbers (see :data:`VERSION_CUES`), and so is one followed by ``.`` and a letter or
    digit, or by ``-`` and a letter (``1.2.3.4-beta``; both ends of ``10.0.0.1-10.0.0.9``
    are addresses). IPv6: colon-hex text that :class:`ipaddress.IPv6Address`
    accepts and that holds a digit (``dead::beef`` in C++ is a scope, ``fe80::1`` an
    address); ``::ffff:192.0.2.1`` is one IPv6 span.
    """
    return _ipv6(text) + _ipv4(text)


def _ipv6(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for m in _IPV6.finditer(text) if text.count(":") >= 2 else ():
        raw = m.group()
        if not any(c.isdigit() for c in raw):
            continue
        try:
            ipaddress.IPv6Address(raw)
        except ValueError:
            continue
        hits.append((m.start(), m.end(), "ipv6"))
    return hits


def _ipv4(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for m in _IPV4_CANDIDATE.finditer(text):
        start, end = m.span()
        before, after = text[start - 1 : start], text[end : end + 2]
        if (before and (before.isalnum() or before in "._")) or (
            after[:1].isalnum() or after[:1] == "_"
        ):
            continue
        if (after[:1] == "." and after[1:2].isalnum()) or (
            after[:1] == "-" and after[1:2].isalpha()
        ):
            continue  # 1.2.3.4.5, 1.2.3.4-beta
        if _IPV4.fullmatch(m.group()) and not _is_version(text, start):
            hits.append((start, end, "ipv4"))
    return hits


# --- phone numbers ------------------------------------------------------------------

# Cheap pre-filter: a digit run with phone punctuation. phonenumbers only looks at
# windows around these, so text without such runs costs one regex scan.
_PHONE_CANDIDATE = re.compile(r"(?<!\d)[+(（＋]?\d[\d \t().\-/]{5,30}\d(?!\d)")
_WINDOW_PAD = 24
_LENIENCY = phonenumbers.Leniency.STRICT_GROUPING
_MAX_WINDOW = 4_000


def _windows(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for m in _PHONE_CANDIDATE.finditer(text):
        lo, hi = max(0, m.start() - _WINDOW_PAD), min(len(text), m.end() + _WINDOW_PAD)
        if spans and lo <= spans[-1][1] and hi - spans[-1][0] <= _MAX_WINDOW:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


def find_phones(text: str, *, region: str = "US") -> list[Hit]:
    """Phone numbers that ``phonenumbers`` finds, judges valid and finds grouped as the
    country writes them (``Leniency.STRICT_GROUPING``: ``2023-11-0042`` is a lot number).

    ``region`` is the country assumed for numbers written without ``+<country code>``.
    Dates, ISBNs and other digit runs that are not valid numbers are left alone.
    """
    hits: list[Hit] = []
    for lo, hi in _windows(text):
        hits += [(lo + s, lo + e, "phone") for s, e in _window_phones(text[lo:hi], region)]
    hits.sort()
    return [h for i, h in enumerate(hits) if i == 0 or h[0] >= hits[i - 1][1]]


def _window_phones(window: str, region: str, rounds: int = 4) -> list[tuple[int, int]]:
    """Matches in one window; found numbers are blanked and the window re-read, since
    the matcher can skip a number that sits right next to another one."""
    found: list[tuple[int, int]] = []
    for _ in range(rounds):
        new = [
            (pm.start, pm.end)
            for pm in phonenumbers.PhoneNumberMatcher(window, region, _LENIENCY, max_tries=200)
        ]
        if not new:
            break
        found += new
        for s, e in new:
            window = window[:s] + "\n" * (e - s) + window[e:]
    return found
