"""The dashboard's sign-in over plain HTTP: the one place that sets the session cookie.

Streamlit talks to the browser over a WebSocket, and a script cannot set a cookie, let alone an
HttpOnly one. So the password form is a small HTML page served by the dashboard's own server
(``dashboard/server.py`` adds these routes to Streamlit's Starlette server through ``st.App``):

- ``GET /sign-in?next=/invitations`` shows the form (email, password);
- ``POST /sign-in`` checks it with :func:`booking_service.services.accounts.authenticate` (its
  per-account and per-client rate limits, its one message for every failure), starts a
  server-side session (:mod:`booking_service.services.dashboard_sessions`) and answers with the
  cookie and a redirect to ``next``, so a deep link lands on its page after sign-in.

The cookie ``slotwise_session`` holds a random 256-bit token signed with ``SECRET_KEY``
(``itsdangerous``); it is ``HttpOnly`` (no script can read it), ``SameSite=Lax`` (sent on links
from elsewhere, not on cross-site posts) and ``Secure`` when ``PUBLIC_URL`` or the request is
https. It lives until the browser closes; the server ends it sooner: after
``SESSION_IDLE_MINUTES`` idle, on sign-out, on a password change or reset, when the account is
disabled. The form itself is protected by a double-submit token (a cookie and a hidden field
that must match).

:class:`SignInRequired` sends a page load without a live session to the form, with the page
asked for as ``next``. The gate in :mod:`dashboard.auth` checks the same cookie on every script
run: that check, not the redirect, is what keeps the pages closed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import logging
import secrets
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature, Signer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from booking_service.core.config import Settings, load_settings
from booking_service.services import accounts, dashboard_sessions
from dashboard import state

__all__ = [
    "COOKIE_NAME",
    "SIGN_IN_PATH",
    "ENDED_NOTICES",
    "SignInRequired",
    "routes",
    "routes_served",
    "sign_token",
    "unsign_token",
    "safe_next",
    "sign_in_url",
]

log = logging.getLogger(__name__)

COOKIE_NAME = "slotwise_session"
_FORM_COOKIE = "slotwise_sign_in_form"
SIGN_IN_PATH = "/sign-in"
_SALT = "slotwise dashboard session"

#: What the form says when it was reached because a session ended (``?ended=...``).
ENDED_NOTICES = {
    "signed-out": "You have signed out.",
    "idle": "Your session ended after {minutes:g} minutes without activity. Please sign in again.",
    "revoked": "Your session was ended: you signed out, or the password was changed. Please sign in again.",
    "disabled": "Your account is no longer active. Ask an admin.",
}

# Paths that are never page loads: Streamlit's own API, assets, media, components, and the form.
_NOT_PAGES = ("/_stcore/", "/static/", "/media/", "/component/", "/app/static/", "/auth/", "/oauth2callback")

_served = False


def routes_served() -> bool:
    """Whether this process serves the sign-in routes (the dashboard was started by ``dashboard/server.py``)."""
    return _served


def _signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, salt=_SALT, digest_method=hashlib.sha256)


def sign_token(token: str, settings: Settings) -> str:
    """The cookie value for a session token."""
    return _signer(settings).sign(token).decode()


def unsign_token(value: str | None, settings: Settings) -> str | None:
    """The session token of a cookie value, or ``None`` when it is missing or its signature is wrong."""
    if not value:
        return None
    try:
        return _signer(settings).unsign(value).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def safe_next(value: str | None) -> str:
    """A path on this site to go to after sign-in; anything else (another site, a scheme) is ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(SIGN_IN_PATH):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in_url(next_path: str | None = None, *, ended: str | None = None) -> str:
    """The form's address, with where to go afterwards and why it is shown, if any."""
    query = {}
    if next_path and safe_next(next_path) != "/":
        query["next"] = safe_next(next_path)
    if ended:
        query["ended"] = ended
    return SIGN_IN_PATH + (f"?{urlencode(query)}" if query else "")


def _secure(request: Request, settings: Settings) -> bool:
    return request.url.scheme == "https" or settings.public_url.startswith("https://")


def _idle(settings: Settings) -> dt.timedelta:
    return dt.timedelta(minutes=settings.session_idle_minutes)


def _session():
    return state.session()  # the dashboard's one engine per process


def _session_ended(request: Request, settings: Settings) -> str | None:
    """Why the request's session cookie does not sign in: ``"none"`` (no good cookie), or the
    reason of :func:`~booking_service.services.dashboard_sessions.ended_because`; ``None`` when live.
    It only reads: a page load is not counted as activity here (the dashboard's script counts it)."""
    token = unsign_token(request.cookies.get(COOKIE_NAME), settings)
    if token is None:
        return "none"
    with _session() as s:
        _, reason = dashboard_sessions.resume(s, idle=_idle(settings), token=token)
    return reason


def _live_session(request: Request, settings: Settings) -> bool:
    return _session_ended(request, settings) is None


def _oidc_configured() -> bool:
    from dashboard.auth import oidc_configured

    return oidc_configured()


# --- the form ---------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>Sign in to Slotwise</title>
<style>
  body {{ font-family: "Source Sans Pro", system-ui, sans-serif; background: #fff; color: #31333f;
         margin: 0; display: flex; justify-content: center; }}
  main {{ width: 100%; max-width: 26rem; padding: 4rem 1.5rem; }}
  h1 {{ font-size: 2rem; margin: 0 0 1.5rem; }}
  label {{ display: block; font-size: 0.9rem; margin: 1rem 0 0.3rem; }}
  input {{ width: 100%; box-sizing: border-box; padding: 0.55rem 0.7rem; font-size: 1rem;
          border: 1px solid #d5d6da; border-radius: 0.5rem; background: #f0f2f6; }}
  button {{ margin-top: 1.5rem; padding: 0.55rem 1.2rem; font-size: 1rem; border: 0; border-radius: 0.5rem;
           background: #ff4b4b; color: #fff; cursor: pointer; }}
  .error, .notice {{ padding: 0.8rem 1rem; border-radius: 0.5rem; margin-bottom: 1rem; }}
  .error {{ background: #ffe2e2; color: #7d1a1a; }}
  .notice {{ background: #e1effe; color: #1c3d6e; }}
</style>
</head>
<body>
<main>
<h1>Sign in to Slotwise</h1>
{messages}
{form}
</main>
</body>
</html>
"""

_FORM = """<form method="post" action="{action}">
<input type="hidden" name="form_token" value="{form_token}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" value="{email}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>"""

_NO_USERS = (
    "No dashboard account exists yet. Create the first admin with "
    "<code>slotwise create-user --role admin --email you@example.com --name 'Your Name'</code>, "
    "or run <code>make run</code> on an empty database: the demo seed prints an admin's password once."
)


def _form_page(
    request: Request,
    settings: Settings,
    *,
    next_path: str,
    error: str | None = None,
    notice: str | None = None,
    email: str = "",
    status_code: int = 200,
) -> Response:
    if _oidc_configured():
        body = _PAGE.format(
            messages='<p class="notice">This dashboard signs in through your organisation account.</p>',
            form=f'<p><a href="{html.escape(next_path)}">Continue to the dashboard</a></p>',
        )
        return HTMLResponse(body, status_code=status_code)
    with _session() as s:
        has_users = bool(accounts.list_users(s))
    messages = []
    if not has_users:
        messages.append(f'<p class="notice">{_NO_USERS}</p>')
    if notice:
        messages.append(f'<p class="notice" role="status">{html.escape(notice)}</p>')
    if error:
        messages.append(f'<p class="error" role="alert">{html.escape(error)}</p>')
    form_token = secrets.token_urlsafe(24)
    action = SIGN_IN_PATH + (f"?{urlencode({'next': next_path})}" if next_path != "/" else "")
    body = _PAGE.format(
        messages="\n".join(messages),
        form=_FORM.format(action=html.escape(action), form_token=form_token, email=html.escape(email)),
    )
    response = HTMLResponse(body, status_code=status_code, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
    })
    response.set_cookie(_FORM_COOKIE, form_token, max_age=3600, path=SIGN_IN_PATH, httponly=True,
                        samesite="strict", secure=_secure(request, settings))
    # A cookie of an ended session is of no use; drop it so the browser stops sending it.
    if request.cookies.get(COOKIE_NAME) and not _live_session(request, settings):
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=_secure(request, settings))
    return response


def _client(request: Request) -> str:
    """Who is trying, for the per-client limit: the connection's IP address."""
    host = request.client.host if request.client else None
    return f"ip:{host}" if host else "unknown"


async def sign_in_form(request: Request) -> Response:
    """``GET /sign-in``: the form (or straight on to ``next`` when the session is live)."""
    settings = load_settings()
    next_path = safe_next(request.query_params.get("next"))
    ended = request.query_params.get("ended")
    if ended is None and await run_in_threadpool(_live_session, request, settings):
        return RedirectResponse(next_path, status_code=303)
    notice = ENDED_NOTICES.get(ended or "")
    if notice:
        notice = notice.format(minutes=settings.session_idle_minutes)
    return await run_in_threadpool(_form_page, request, settings, next_path=next_path, notice=notice)


def _authenticate(email: str, password: str, client: str) -> tuple[accounts.SignInResult, str | None]:
    """Check the attempt in its own transaction (it holds the attempt's locks until it commits),
    then start the session in another: a failure is recorded whatever happens next."""
    with _session() as s:
        result = accounts.authenticate(s, email, password, client=client)
    if not result.ok:
        return result, None
    with _session() as s:
        user = accounts.user_by_id(s, result.user.id)
        _, token = dashboard_sessions.start(s, user, idle=_idle(load_settings()))
    return result, token


async def sign_in(request: Request) -> Response:
    """``POST /sign-in``: check the form, start the session, set the cookie, go on to ``next``."""
    settings = load_settings()
    next_path = safe_next(request.query_params.get("next"))
    if _oidc_configured():
        return Response("Password sign-in is off: this dashboard signs in through OpenID Connect.",
                        status_code=404)
    form = await request.form()
    email = str(form.get("email") or "")
    password = str(form.get("password") or "")
    expected = request.cookies.get(_FORM_COOKIE) or ""
    given = str(form.get("form_token") or "")
    if not expected or not hmac.compare_digest(expected, given):
        return await run_in_threadpool(
            _form_page, request, settings, next_path=next_path, email=email, status_code=400,
            error="The form had expired or was sent from elsewhere; nothing was checked. Please sign in again.",
        )
    result, token = await run_in_threadpool(_authenticate, email, password, _client(request))
    if token is None:
        status = 429 if result.retry_after is not None else 401
        return await run_in_threadpool(
            _form_page, request, settings, next_path=next_path, email=email, error=result.message,
            status_code=status,
        )
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(COOKIE_NAME, sign_token(token, settings), path="/", httponly=True, samesite="lax",
                        secure=_secure(request, settings))
    response.delete_cookie(_FORM_COOKIE, path=SIGN_IN_PATH)
    return response


def routes() -> list[Route]:
    """The sign-in routes, for ``st.App(routes=...)``."""
    global _served
    _served = True
    return [
        Route(SIGN_IN_PATH, sign_in_form, methods=["GET", "HEAD"]),
        Route(SIGN_IN_PATH, sign_in, methods=["POST"]),
    ]


# --- the redirect of page loads ---------------------------------------------------------------


def _is_page_load(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] not in {"GET", "HEAD"}:
        return False
    path = scope["path"]
    if path == SIGN_IN_PATH or path.startswith(_NOT_PAGES) or "." in path.rsplit("/", 1)[-1]:
        return False  # the form, Streamlit's own routes, files such as /favicon.png
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    dest = headers.get("sec-fetch-dest")
    return dest == "document" if dest else "text/html" in headers.get("accept", "")


class SignInRequired:
    """ASGI middleware: a page load without a live session goes to the form, ``next`` the page asked for."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _is_page_load(scope) and not await run_in_threadpool(_oidc_configured):
            request = Request(scope)
            ended = await run_in_threadpool(_session_ended, request, load_settings())
            if ended is not None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                why = ended if ended in ENDED_NOTICES else None  # an idle or revoked session says so
                await RedirectResponse(sign_in_url(target, ended=why), status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)
