"""``explain``: one member's AOR history for agent-support representatives (disputes).

`build` turns records into an `Explanation` (pure); `render_text` and `render_json`
show it; `sources` loads the records from an outputs folder, a replay or the topics.
"""

from processor.explain.build import Explanation, MemberNotFoundError, Records, explain
from processor.explain.render_json import explanation_from_json, render_json
from processor.explain.render_text import render_text

__all__ = [
    "Explanation",
    "MemberNotFoundError",
    "Records",
    "explain",
    "explanation_from_json",
    "render_json",
    "render_text",
]
