"""Error pages: a clear sentence for the person, never a traceback.

Unexpected exceptions are deliberately not handled here: Flask logs them, signals
them (Sentry's Flask integration reports them from that signal) and then renders
its ``InternalServerError``, which the ``HTTPException`` handler below turns into
the 500 page.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: "The request could not be understood. Reload the page and try again.",
    403: "Your account may not open this page.",
    404: "There is nothing here. It may have been removed, or it belongs to another site.",
    405: "That action is not available here.",
    413: "That upload is too large.",
    429: "Too many attempts. Wait a minute, then try again.",
    500: "Something went wrong on our side. It has been reported; try again shortly.",
}


def _answer(code: int, message: str):
    if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=message), code
    return render_template("errors/error.html", code=code, message=message), code


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _answer(
            400,
            "This form has expired or did not come from this portal. Reload the page and "
            "submit it again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        # abort(400, description="...") explains a bad request in the view's own words.
        custom = code == 400 and error.description != type(error).description
        if custom and error.description:
            return _answer(code, error.description[0].upper() + error.description[1:] + ".")
        return _answer(code, MESSAGES.get(code, error.description or "Request refused."))
