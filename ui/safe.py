"""User text in Markdown-rendering widgets: ``st.error(md(exc))``.

``st.error/warning/info/success/caption/markdown/toast/title/header/subheader`` render Markdown: a domain
named ``![i](http://host/x.png)`` would make every browser that shows the message fetch that URL. Every value
that can hold user text (names, file names, paths, labels, exception messages quoting them) goes through
:func:`md`, which backslash-escapes every Markdown and HTML metacharacter; tests/app/test_no_markdown_injection.py
sweeps every such call in views/ and ui/.
"""
from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=&\"'])")


def md(value) -> str:
    """``str(value)`` with every Markdown/HTML metacharacter escaped: it renders as the literal text."""
    return _SPECIAL.sub(r"\\\1", str(value))
