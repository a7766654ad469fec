"""The API's OpenAPI document, generated from the handler's routes.

python -m functions.api.openapi      rewrites functions/api/openapi.json
"""

from __future__ import annotations

import json
from pathlib import Path

DOCUMENT = Path(__file__).with_name("openapi.json")


def generate() -> str:
    """The document as the handler serves it at ``v1/openapi.json``, pretty-printed."""
    from functions.handlers.api import build_resolver, openapi_document

    return json.dumps(json.loads(openapi_document(build_resolver(None))), indent=2) + "\n"


if __name__ == "__main__":
    DOCUMENT.write_text(generate())
    print(f"wrote {DOCUMENT}")
