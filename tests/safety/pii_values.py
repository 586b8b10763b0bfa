"""Hypothesis strategies for PII values and hard negatives (safety tests only).

Check digits are computed here, independently of ``sftdata.safety``, so the tests do
not grade the detectors with their own arithmetic. Phone numbers are filtered through
``phonenumbers.is_valid_number``: that library is the reference the detector relies on.
"""

from __future__ import annotations

import string

import phonenumbers
from hypothesis import strategies as st

from sftdata.safety import VERSION_CUES

DIGITS = string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass the Luhn check (textbook algorithm)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def iban_with_check(country: str, bban: str) -> str:
    """ISO 13616: check digits are 98 minus (BBAN + country + '00') mod 97, letters as 10-35."""
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def group(value: str, size: int, sep: str) -> str:
    return sep.join(value[i : i + size] for i in range(0, len(value), size))


filler_words = st.lists(
    st.text(string.ascii_lowercase, min_size=2, max_size=9).filter(lambda w: w not in VERSION_CUES),
    min_size=0,
    max_size=4,
).map(" ".join)


def _word(lo: int, hi: int) -> st.SearchStrategy[str]:
    """A lowercase letter then ``lo..hi`` letters or digits."""
    tail = st.text(string.ascii_lowercase + DIGITS, min_size=lo, max_size=hi)
    return st.builds(str.__add__, st.sampled_from(string.ascii_lowercase), tail)


emails = st.builds(
    "{}{}@{}.{}".format,
    _word(0, 10),
    st.sampled_from(["", ".x", "_y", "+tag", "-z"]),
    _word(1, 10),
    st.sampled_from(["com", "org", "net", "io", "example", "co.uk"]),
)

_CARD_PREFIXES = [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("34", 15),
                  ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("62", 16)]  # fmt: skip


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix, length = draw(st.sampled_from(_CARD_PREFIXES))
    body = prefix + draw(
        st.text(DIGITS, min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1)
    )
    number = body + luhn_check_digit(body)
    sep = draw(st.sampled_from(["", " ", "-"]))
    return group(number, 4, sep) if sep else number


_IBAN_SHAPES = {"DE": "n18", "FR": "n23", "NL": "a4n10", "GB": "a4n14", "ES": "n20", "BE": "n12",
                "IT": "a1n22", "CH": "n17", "NO": "n11", "PL": "n24"}  # fmt: skip


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(sorted(_IBAN_SHAPES)))
    shape = _IBAN_SHAPES[country]
    letters = int(shape[1:].split("n")[0]) if shape.startswith("a") else 0
    digits = int(shape.split("n")[1])
    bban = draw(st.text(string.ascii_uppercase, min_size=letters, max_size=letters))
    bban += draw(st.text(DIGITS, min_size=digits, max_size=digits))
    iban = iban_with_check(country, bban)
    return group(iban, 4, " ") if draw(st.booleans()) else iban


_US_AREAS = ["212", "415", "646", "312", "206", "617", "305", "718", "202", "512"]


@st.composite
def phones(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(_US_AREAS))
    exchange = draw(st.sampled_from("23456789")) + draw(st.text(DIGITS, min_size=2, max_size=2))
    line = draw(st.text(DIGITS, min_size=4, max_size=4))
    fmt = draw(
        st.sampled_from(
            ["({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "+1-{a}-{e}-{l}"]
        )
    )
    number = fmt.format(a=area, e=exchange, l=line)
    parsed = phonenumbers.parse(number, "US")
    if not phonenumbers.is_valid_number(parsed):
        return draw(st.nothing())
    return number


ipv4s = st.ip_addresses(v=4).map(str)
ipv6s = (
    st.ip_addresses(v=6).map(lambda a: a.compressed).filter(lambda s: any(c.isdigit() for c in s))
)

secrets = st.one_of(
    st.text(UPPER_ALNUM, min_size=16, max_size=16).map(lambda s: "AKIA" + s),
    st.text(ALNUM, min_size=36, max_size=36).map(lambda s: "ghp_" + s),
    st.tuples(
        st.text(DIGITS, min_size=10, max_size=12), st.text(ALNUM, min_size=24, max_size=24)
    ).map(lambda t: f"xoxb-{t[0]}-{t[0]}-{t[1]}"),
    st.text(ALNUM, min_size=40, max_size=40).map(lambda s: "sk-" + s + "aA1"),
)

#: (type, strategy) for every PII type.
PII_VALUES = {
    "email": emails,
    "phone": phones(),
    "ip_address": st.one_of(ipv4s, ipv6s),
    "credit_card": cards(),
    "iban": ibans(),
    "secret": secrets,
}

#: Strings that look numeric or structured but are not PII.
hard_negatives = st.one_of(
    st.uuids().map(str),
    st.binary(min_size=16, max_size=32).map(bytes.hex),
    st.dates().map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
    st.tuples(st.sampled_from(["version", "v", "build", "release"]), ipv4s).map(" ".join),
    st.text(DIGITS, min_size=9, max_size=9).map(lambda s: f"978-{s[:1]}-{s[1:4]}-{s[4:]}-{s[0]}"),
    st.integers(0, 10**6).map(lambda n: f"ORD-{n:07d}"),
    st.lists(st.integers(0, 999).map(str), min_size=2, max_size=3).map(".".join),
)
