"""The v1 routes: each endpoint, its body's shape and its refusals, on a Powertools resolver.

The ``api`` handler binds them to its service; :mod:`functions.work.api.openapi` reads
the OpenAPI document off the same routes.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body

from functions.work.api.caller import Caller, CallerUnknown, resolve_caller
from functions.work.api.service import ApiService, Conflict, NotFound, RequestError
from functions.work.submit import Hooks

TITLE = "YarraCloud API"
VERSION = "1"


def build_resolver(
    service: ApiService | None, hooks: Hooks | None = None
) -> APIGatewayRestResolver:
    """The routes, bound to ``service`` (None only to generate the OpenAPI document).

    The resolver keeps the request it serves on its class, for the whole process: a
    process serves one request at a time, as a Lambda execution environment does.
    """
    app = APIGatewayRestResolver(enable_validation=True)
    hooks = hooks or Hooks()

    def caller() -> Caller:
        hooks.before_api_caller(app.current_event.path)
        identity = app.current_event.request_context.identity
        return resolve_caller(identity.user_arn)

    @app.post("/v1/user_status", summary="Whether the caller may submit, and where to upload")
    def user_status() -> dict[str, Any]:
        return service.user_status(caller())

    @app.post("/v1/modes", summary="The modes enabled at the caller's site")
    def modes() -> list[dict[str, Any]]:
        return service.modes(caller())

    @app.post("/v1/job_submit", summary="Submit an uploaded task (once, however often called)")
    def job_submit(
        name: Annotated[str, Body(embed=True)],
        task_file_name: Annotated[str, Body(embed=True)],
        recon_mode: Annotated[str, Body(embed=True)],
    ) -> dict[str, Any]:
        return service.job_submit(caller(), name, task_file_name, recon_mode)

    @app.post("/v1/jobs", summary="Status, cost and job id of the caller's tasks")
    def jobs(names: Annotated[list[str], Body()]) -> dict[str, Any]:
        return service.jobs(caller(), names)

    @app.post("/v1/mode_destinations", summary="Where the site stores a mode's images")
    def mode_destinations(recon_mode: Annotated[str, Body(embed=True)]) -> list[dict[str, str]]:
        return service.mode_destinations(caller(), recon_mode)

    @app.post("/v1/job_status", summary="One task: status history, cost and failure reason")
    def job_status(name: Annotated[str, Body(embed=True)]) -> dict[str, Any]:
        return service.job_status(caller(), name)

    @app.post("/v1/job_delivered", summary="The agent stored the images: the task is DELIVERED")
    def job_delivered(name: Annotated[str, Body(embed=True)]) -> dict[str, Any]:
        return service.job_delivered(caller(), name)

    @app.post("/v1/job_cancel", summary="Stop a task and its job: the task is CANCELED")
    def job_cancel(name: Annotated[str, Body(embed=True)]) -> dict[str, Any]:
        return service.job_cancel(caller(), name)

    @app.post(
        "/v1/destination_tests", summary="Destinations whose connection test the agent should run"
    )
    def destination_tests() -> dict[str, Any]:
        return service.destination_tests(caller())

    @app.post(
        "/v1/destination_test_result",
        summary="What the agent found when it tested a destination from the site",
    )
    def destination_test_result(
        name: Annotated[str, Body(embed=True)],
        ok: Annotated[bool, Body(embed=True)],
        message: Annotated[str, Body(embed=True)],
    ) -> dict[str, Any]:
        return service.destination_test_result(caller(), name, ok, message)

    @app.get("/v1/openapi.json", summary="This document", include_in_schema=False)
    def openapi():  # no annotation: a Response is not part of the document
        return Response(200, "application/json", openapi_document(app))

    def error(status: int, message: str) -> Response:
        return Response(status, "application/json", json.dumps({"message": message}))

    @app.exception_handler(RequestValidationError)
    def invalid(exc: RequestValidationError) -> Response:
        return Response(422, "application/json", json.dumps(validation_answer(exc.errors())))

    @app.exception_handler(CallerUnknown)
    def unknown_caller(exc: CallerUnknown) -> Response:
        return error(403, str(exc))

    @app.exception_handler(RequestError)
    def bad_request(exc: RequestError) -> Response:
        return error(400, str(exc))

    @app.exception_handler(NotFound)
    def not_found(exc: NotFound) -> Response:
        return error(404, str(exc))

    @app.exception_handler(Conflict)
    def conflict(exc: Conflict) -> Response:
        return error(409, str(exc))

    return app


def validation_answer(errors: Any, most: int = 3) -> dict[str, Any]:
    """Which fields are wrong and why, in the document's shape (``detail``), briefly.

    It quotes none of the input, which can be megabytes: field names and positions are
    cut short, and only the first ``most`` distinct problems are listed.
    """
    detail: list[dict[str, Any]] = []
    for error in errors:
        loc = [part[:40] if isinstance(part, str) else part for part in error["loc"]]
        item = {"loc": loc, "msg": str(error.get("msg", ""))[:60], "type": error["type"]}
        if item not in detail:
            detail.append(item)
    fields = sorted({".".join(str(part) for part in item["loc"][1:]) or "body" for item in detail})
    shown = ", ".join(fields[:most]) + (", …" if len(fields) > most else "")
    return {
        "message": f"the body does not fit this endpoint ({shown}; see detail)",
        "detail": detail[:most],
    }


def openapi_document(app: APIGatewayRestResolver) -> str:
    return app.get_openapi_json_schema(title=TITLE, version=VERSION)
