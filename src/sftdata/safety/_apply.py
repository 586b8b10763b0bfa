"""The reasons of a safety row whose texts cannot be read (see :mod:`sftdata._texts`).

A row value is either a ``str`` (``text`` rows) or a list of ``{"role", "content"}``
dicts (``messages`` rows). Bad values raise :class:`~sftdata.RowError`:

=============================  =========================================
value                          reason
=============================  =========================================
``text`` not a ``str``         ``safety.not_text``
``messages`` not a list        ``safety.not_messages``
message ``i`` without str      ``safety.bad_message:<i>``
content
=============================  =========================================

>>> from sftdata._texts import row_texts
>>> row_texts(5, "text", step=BAD_ROW)
Traceback (most recent call last):
...
sftdata._contract.RowError: safety.not_text: text must be str, got int
"""

from __future__ import annotations

from sftdata._texts import BadRow

#: The reason codes every safety step gives a row it cannot read.
BAD_ROW = BadRow("safety.not_text", "safety.not_messages", "safety.bad_message")
