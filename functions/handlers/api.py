"""``api``: the v1 endpoints behind API Gateway (``AWS_IAM`` authorization, proxy integration).

The caller is the IAM user whose key signed the request, as API Gateway puts it in
the request context; every endpoint answers only about that user's own tasks.
"""

from __future__ import annotations

import json
from typing import Any

from functions.handlers.runtime import Dependencies, Handler, Powertools, lambda_entry, reported
from functions.work.api.body import BadBody, as_json_request, read_json_body
from functions.work.api.routes import build_resolver
from functions.work.api.service import ApiService
from functions.work.submit import Hooks


def build(deps: Dependencies, hooks: Hooks | None = None) -> Handler:
    tools = Powertools.for_function("api", deps.settings)
    service = ApiService(deps.settings, deps.clients, clock=deps.clock, hooks=hooks)
    app = build_resolver(service, hooks)

    @reported
    def handler(event: dict, context: Any) -> dict:
        try:
            body = read_json_body(event)
        except BadBody as exc:
            return {
                "statusCode": 400,
                "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"message": str(exc)}),
                "isBase64Encoded": False,
            }
        return app.resolve(as_json_request(event, body), context)

    return tools.entry_point(handler)


lambda_handler = lambda_entry(build, component="api")
