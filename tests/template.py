"""template.yaml as cfn-lint decodes it, shared by the template tests (test_template, test_template_iam)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template.yaml"


@cache
def _decoded() -> str:
    """The template as cfn-lint decodes it (short-form tags become Ref / Fn::GetAtt lists), as JSON text."""
    from cfnlint.decode import decode

    template, matches = decode(str(TEMPLATE))
    assert not matches, [str(match) for match in matches]
    return json.dumps(template)


def load_template() -> dict[str, Any]:
    """A fresh plain-dict copy per call: samtranslator mutates what it is given."""
    data: dict[str, Any] = json.loads(_decoded())
    return data
