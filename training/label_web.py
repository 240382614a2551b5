"""``convenv serve-labels``: the labelling web app for a team.

A small FastAPI app (Jinja templates, plain forms, one static script for keyboard
shortcuts; no build step) served by uvicorn on 127.0.0.1 by default:

- **Dialog mode** (``/dialog``): pick an action code (an admin may type a new one);
  the interviewer proposes a question; accept, reject or edit it; the partner
  answers and the dialog grows. The partner's persona is sampled or typed.
- **Review mode** (``/review``): proposals nobody decided yet, the goal check's most
  doubtful first; with ``--auto-accept`` the ones the check is sure of are offered
  for acceptance in one click (recorded as ``labeller="auto"``). Keys: ``a`` accept,
  ``r`` reject, ``e`` edit, ``s`` skip.
- **Progress** (``/progress``): your decisions per code; an admin sees everyone's,
  the agreement where two people decided the same proposal, and the export (JSON
  Lines that ``datasets.load_dataset("json", ...)`` reads).
- **People** (``/admin``, admins only): the accounts, and a form to add one.

Everyone logs in with a name and a secret (``convenv serve-labels users add NAME
[--admin]``; a first start with no accounts creates an admin and prints its secret
once). A labeller decides only as themselves; only an admin exports, sees other
people's work or adds codes. Requests must name an allowed Host (loopback names, and
``--allowed-host``); state-changing requests are POSTs from this app's own origin
carrying the session's CSRF token; sessions expire and are replaced at log-in.
Pages carry a Content-Security-Policy without inline script. Every decision is
committed to the label store (SQLite by default) before the page answers.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations
# (``Request``, imported inside create_app) at definition time.
import argparse
import secrets
import sys
from pathlib import Path

from convenv.cli import plain
from convenv.errors import InvalidArgumentError, MissingDependencyError
from convenv.training.label_accounts import Accounts, accounts_path, new_secret
from convenv.training.label_app import SESSION_HOURS, LabelApp, Session
from convenv.training.label_doors import SECURITY_HEADERS, Doors, is_loopback
from convenv.training.label_store import DEFAULT_STORE, LabelStore
from convenv.training.sqlite_file import DEFAULT_LOCK_TIMEOUT

MAX_PERSONA = 2_000
SESSION_COOKIE = "convenv_session"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def require_web() -> None:
    """The web extra's packages, or one line that says how to get them."""
    try:
        import argon2  # noqa: F401
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise MissingDependencyError(
            "The labelling web app needs its extra: pip install 'convenv[web]'."
        ) from err


def port_is_free(host: str, port: int) -> None:
    """Refuse, before anything loads, a port another program listens on."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise InvalidArgumentError(
                f"--port {port} on {host} is taken ({err.strerror}); pass another --port "
                "or stop the program that listens there."
            ) from err


def create_app(
    store_path: str | Path,
    components,
    personas,
    accounts: Accounts | None = None,
    auto_accept: float | None = None,
    review_size: int = 50,
    seed: int = 0,
    allowed_hosts: tuple[str, ...] = (),
    session_hours: float = SESSION_HOURS,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
):
    """The ASGI app over a label store, its accounts (beside the store unless given)
    and a set of agents (interviewer, partner, identifier whose encoder the goal check
    uses)."""
    require_web()
    from fastapi import FastAPI, Form, Request
    from fastapi.responses import (
        HTMLResponse,
        JSONResponse,
        PlainTextResponse,
        RedirectResponse,
        Response,
        StreamingResponse,
    )
    from fastapi.templating import Jinja2Templates

    store = LabelStore(store_path, lock_timeout=lock_timeout)
    if accounts is None:
        accounts = Accounts(accounts_path(store_path), lock_timeout=lock_timeout)
    state_app = LabelApp(
        store, accounts, components, personas, auto_accept, review_size, seed, session_hours
    )
    doors = Doors(allowed_hosts)
    templates = Jinja2Templates(directory=str(TEMPLATES))  # autoescapes .html
    app = FastAPI(title="convenv labels", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.labels = state_app

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def with_cookie(request: Request, response, sid: str):
        # Secure when the app is reached over TLS (a local reverse proxy whose
        # X-Forwarded-Proto uvicorn trusts; docs/labelling.md): never sent in clear.
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    def page(request, name: str, sid: str, state: Session, status: int = 200, **context):
        message, state.message = state.message, ""
        response = templates.TemplateResponse(
            request,
            name,
            {"state": state, "actions": state_app.actions, "message": message, **context},
            status_code=status,
        )
        return with_cookie(request, response, sid)

    def done(request: Request, sid: str, target: str, payload: dict, status: int = 200):
        """JSON for API clients, a redirect back to the page for browsers."""
        if wants_json(request):
            response = JSONResponse(payload, status_code=status)
        else:
            response = RedirectResponse(target, status_code=303)
        return with_cookie(request, response, sid)

    def refuse(request: Request, sid: str, state: Session, target: str, message: str, status=400):
        state.message = message
        return done(request, sid, target, {"error": message}, status=status)

    @app.middleware("http")
    async def check_doors(request: Request, call_next):
        problem = doors.host_problem(request.headers.get("host"))
        if problem is None:
            problem = doors.origin_problem(request.method, request.headers)
            status = 403
        else:
            status = 400  # a foreign Host: DNS rebinding or a wrong name
        if problem is not None:
            response = PlainTextResponse(problem, status_code=status)
        else:
            response = await call_next(request)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    def current(request: Request) -> tuple[str, Session]:
        return state_app.session(request.cookies.get(SESSION_COOKIE))

    def csrf_ok(request: Request, state: Session, form_token: str) -> bool:
        given = form_token or request.headers.get("x-csrf-token", "")
        return secrets.compare_digest(given.encode(), state.csrf.encode())

    @app.get("/static/{name}")
    def static(name: str):
        media = {"labels.css": "text/css", "keys.js": "text/javascript"}
        if name not in media:  # a fixed list: no path from the request reaches the disk
            return PlainTextResponse("Not found", 404)
        return Response((STATIC / name).read_bytes(), media_type=media[name])

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        sid, state = current(request)
        return done(request, sid, "/dialog" if state.account else "/login", {})

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request):
        sid, state = current(request)
        return page(request, "login.html", sid, state)

    @app.post("/login")
    def login(request: Request, name: str = Form(""), secret: str = Form(""), csrf: str = Form("")):
        sid, state = current(request)
        if not csrf_ok(request, state, csrf):
            return refuse(request, sid, state, "/login", "The form expired; try again.")
        if len(name) > 200 or len(secret) > 1_000:
            return refuse(request, sid, state, "/login", "Name or secret too long.")
        entered = state_app.log_in(sid, name, secret)
        if entered is None:
            message = "Unknown name or wrong secret."
            return refuse(request, sid, state, "/login", message, status=401)
        sid, state = entered
        payload = {"name": state.name, "role": state.account.role, "csrf": state.csrf}
        return done(request, sid, "/dialog", payload)

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")):
        sid, state = current(request)
        if csrf_ok(request, state, csrf):
            state_app.log_out(sid)
        return RedirectResponse("/login", status_code=303)

    def named(request: Request, admin: bool = False):
        """``(sid, state, response to return instead)``: a page needs a logged-in
        person (an admin, for admin pages)."""
        sid, state = current(request)
        if state.account is None:
            away = (
                JSONResponse({"error": "log in first"}, 401)
                if wants_json(request)
                else RedirectResponse("/login", 303)
            )
            return sid, state, away
        if admin and not state.is_admin:
            return sid, state, PlainTextResponse("Only an admin may do this.", 403)
        return sid, state, None

    def guard(request: Request, csrf: str, target: str, admin: bool = False):
        """``(sid, state, response to return instead)`` for a state-changing request:
        a person must have logged in and the form must carry the session's token."""
        sid, state, away = named(request, admin)
        if away:
            return sid, state, away
        if not csrf_ok(request, state, csrf):
            return sid, state, refuse(request, sid, state, target, "The form expired; try again.")
        return sid, state, None

    @app.get("/dialog", response_class=HTMLResponse)
    def dialog_page(request: Request):
        sid, state, away = named(request)
        if away:
            return away
        if not state.persona:  # the session's own draw; nothing is stored
            state.persona = state_app.sample_persona()
        return page(request, "dialog.html", sid, state)

    @app.post("/dialog/persona")
    def set_persona(
        request: Request, mode: str = Form("sample"), persona: str = Form(""), csrf: str = Form("")
    ):
        sid, state, stop = guard(request, csrf, "/dialog")
        if stop:
            return stop
        if mode == "typed":
            facts = tuple(f.strip() for f in persona.splitlines() if f.strip())
            if not facts or len(persona) > MAX_PERSONA:
                message = f"Type 1-5 facts, one per line, under {MAX_PERSONA} characters."
                return refuse(request, sid, state, "/dialog", message)
            state.persona = facts[:5]
        else:
            state.persona = state_app.sample_persona()
        state.history, state.pending = [], None
        return done(request, sid, "/dialog", {"persona": list(state.persona)})

    @app.post("/dialog/propose")
    def propose(
        request: Request, code_id: str = Form(""), new_code: str = Form(""), csrf: str = Form("")
    ):
        sid, state, stop = guard(request, csrf, "/dialog")
        if stop:
            return stop
        try:
            code = state_app.code_from_form(state, code_id, new_code)
        except ValueError as err:
            return refuse(request, sid, state, "/dialog", str(err))
        if not state.persona:
            state.persona = state_app.sample_persona()
        proposal = state_app.propose(state, code)
        return done(request, sid, "/dialog", proposal.__dict__)

    @app.post("/dialog/decide")
    def decide_in_dialog(
        request: Request,
        verdict: str = Form(""),
        correction: str = Form(""),
        csrf: str = Form(""),
    ):
        sid, state, stop = guard(request, csrf, "/dialog")
        if stop:
            return stop
        if state.pending is None:
            return refuse(request, sid, state, "/dialog", "Pick a code first.")
        try:
            verdict, final = state_app.verdict_from_form(
                verdict, correction, state.pending.question
            )
        except ValueError as err:
            return refuse(request, sid, state, "/dialog", str(err))
        proposal, state.pending = state.pending, None
        (example,) = state_app.decide(
            state, [proposal], verdict, final, tuple(state.history), state.persona
        )
        reply = state_app.answer(state, final) if verdict != "reject" else None
        return done(request, sid, "/dialog", {"verdict": example.verdict, "answer": reply})

    @app.get("/review", response_class=HTMLResponse)
    def review_page(request: Request):
        sid, state, away = named(request)
        if away:
            return away
        if not state.queue:
            state_app.fill_queue(state)
        item = state.queue[0] if state.queue else None
        return page(request, "review.html", sid, state, item=item)

    @app.get("/api/review")
    def review_queue(request: Request):
        sid, state, away = named(request)
        if away:
            return JSONResponse({"error": "log in first"}, 401)
        if not state.queue:
            state_app.fill_queue(state)
        items = [p.__dict__ for p in state.queue or []]
        sure = [p.__dict__ for p in state.sure]
        # An API route answers JSON whatever the Accept header says.
        payload = {"items": items, "sure": sure, "csrf": state.csrf}
        return with_cookie(request, JSONResponse(payload), sid)

    @app.post("/review/auto-accept")
    def accept_sure(request: Request, csrf: str = Form("")):
        sid, state, stop = guard(request, csrf, "/review")
        if stop:
            return stop
        return done(request, sid, "/review", {"accepted": state_app.accept_sure(state)})

    @app.post("/review/decide")
    def decide_in_review(
        request: Request,
        code: str = Form(""),
        question: str = Form(""),
        verdict: str = Form(""),
        correction: str = Form(""),
        csrf: str = Form(""),
    ):
        sid, state, stop = guard(request, csrf, "/review")
        if stop:
            return stop
        if verdict == "skip":
            try:
                state.queue.append(state_app.take(state, code, question))
            except ValueError as err:
                return refuse(request, sid, state, "/review", str(err))
            return done(request, sid, "/review", {"skipped": True})
        try:
            proposal = state_app.take(state, code, question)
        except ValueError as err:
            return refuse(request, sid, state, "/review", str(err))
        try:
            verdict, final = state_app.verdict_from_form(verdict, correction, proposal.question)
        except ValueError as err:
            state.queue.insert(0, proposal)
            return refuse(request, sid, state, "/review", str(err))
        (example,) = state_app.decide(state, [proposal], verdict, final)
        return done(request, sid, "/review", {"verdict": example.verdict, "final": final})

    @app.get("/progress", response_class=HTMLResponse)
    def progress_page(request: Request):
        sid, state, away = named(request)
        if away:
            return away
        stats = state_app.progress(state.account)
        return page(request, "progress.html", sid, state, stats=stats)

    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request):
        sid, state, away = named(request, admin=True)
        if away:
            return away
        return page(request, "admin.html", sid, state, accounts=state_app.accounts.all())

    @app.post("/admin/users")
    def add_user(
        request: Request,
        name: str = Form(""),
        secret: str = Form(""),
        admin: str = Form(""),
        csrf: str = Form(""),
    ):
        sid, state, stop = guard(request, csrf, "/admin", admin=True)
        if stop:
            return stop
        try:
            account = state_app.accounts.add(name, secret, "admin" if admin else "labeller")
        except InvalidArgumentError as err:
            return refuse(request, sid, state, "/admin", str(err))
        state.message = f"Added {account.role} {account.name}."
        return done(request, sid, "/admin", {"name": account.name, "role": account.role})

    @app.get("/export")
    def export(request: Request):
        _sid, _state, away = named(request, admin=True)
        if away:
            return away
        return StreamingResponse(
            state_app.store.export_lines(),  # streamed: no file is written
            media_type="application/x-ndjson",
            headers={"content-disposition": 'attachment; filename="labels.jsonl"'},
        )

    return app


def first_admin(accounts: Accounts) -> str | None:
    """On a first start (no accounts), an admin named ``admin`` with a new secret,
    printed once by the caller; None when accounts exist."""
    if len(accounts):
        return None
    secret = new_secret()
    accounts.add("admin", secret, "admin")
    return secret


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["users"]:
        from convenv.training.label_accounts import main as users_main

        return users_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="convenv serve-labels",
        description=plain(__doc__),
        epilog="Accounts: convenv serve-labels users add NAME [--admin] (see users --help).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--store", default=DEFAULT_STORE, help="label store (.sqlite or .jsonl)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        help="a Host name people reach the app by, besides loopback (repeat for more)",
    )
    parser.add_argument(
        "--session-hours", type=float, default=SESSION_HOURS, help="idle hours before re-login"
    )
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT,
        help="seconds to wait for another writer of the store before failing",
    )
    parser.add_argument(
        "--auto-accept", type=float, default=None, help="offer proposals the goal check is sure of"
    )
    parser.add_argument("--review-size", type=int, default=50, help="proposals per review round")
    from convenv.arguments import add_speaker_arguments, speakers_from_arguments

    # People who label read the partner's answers: the default one that keeps to its
    # persona, so a contradiction in the dialog never misleads a labeller.
    add_speaker_arguments(
        parser,
        only=("partner", "interviewer", "model", "base_url", "api_key_env", "device"),
        defaults={"partner": "consistent"},
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the proposals drawn")
    args = parser.parse_args(argv)
    if args.auto_accept is not None and not 0.0 <= args.auto_accept <= 1.0:
        parser.error(f"--auto-accept {args.auto_accept}: pass a probability between 0 and 1")
    if args.session_hours <= 0 or args.lock_timeout <= 0:
        parser.error("--session-hours and --lock-timeout must be positive")
    require_web()
    port_is_free(args.host, args.port)  # a busy port is one line, before anything loads
    # The stores first: a bad one is one line and exit 2 before any model loads.
    LabelStore(args.store, lock_timeout=args.lock_timeout)
    accounts = Accounts(accounts_path(args.store), lock_timeout=args.lock_timeout)
    allowed = list(args.allowed_host)
    if not is_loopback(args.host):
        if not len(accounts):
            parser.error(
                f"--host {args.host} listens beyond this machine and {accounts.path} has no "
                "accounts yet: add them first (convenv serve-labels users add NAME --admin)"
            )
        if args.host not in ("0.0.0.0", "::"):
            allowed.append(args.host)
        if not allowed:
            parser.error(
                f"--host {args.host}: pass --allowed-host with the name people type in their "
                "browser (e.g. --allowed-host labels.example.org)"
            )
        print(
            "warning: the app speaks plain HTTP; beyond this machine put it behind a TLS "
            "reverse proxy (docs/labelling.md)",
            file=sys.stderr,
        )
    secret = first_admin(accounts)
    import uvicorn

    from convenv.personachat import load_personas
    from convenv.training.chat import ChatAgents

    partner, interviewer, identifier = speakers_from_arguments(args)
    app = create_app(
        args.store,
        ChatAgents(partner, interviewer, identifier),
        load_personas("train"),
        accounts,
        args.auto_accept,
        args.review_size,
        args.seed,
        tuple(allowed),
        args.session_hours,
        args.lock_timeout,
    )
    print(f"labelling app on http://{args.host}:{args.port}/ (store {args.store}); Ctrl-C stops it")
    if secret:
        print(f"first start: created admin 'admin' with secret {secret} (shown only now)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
