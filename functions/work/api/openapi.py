"""The API's OpenAPI document, generated from the routes the handler serves.

python -m functions.work.api.openapi      rewrites functions/work/api/openapi.json
"""

from __future__ import annotations

import json
from pathlib import Path

from functions.work.api.routes import build_resolver, openapi_document

DOCUMENT = Path(__file__).with_name("openapi.json")


def generate() -> str:
    """The document as the handler serves it at ``v1/openapi.json``, pretty-printed."""
    return json.dumps(json.loads(openapi_document(build_resolver(None))), indent=2) + "\n"


if __name__ == "__main__":
    DOCUMENT.write_text(generate())
    print(f"wrote {DOCUMENT}")
