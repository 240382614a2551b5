"""``convenv serve-labels``: the labelling web app for a team.

A small FastAPI app (Jinja templates, plain forms, a few lines of inline script for
keyboard shortcuts; no build step) served by uvicorn on 127.0.0.1 by default:

- **Dialog mode** (``/dialog``): pick an action code or type a new one; the
  interviewer proposes a question; accept, reject or edit it; the partner answers
  and the dialog grows. The partner's persona is sampled, typed or loaded.
- **Review mode** (``/review``): proposals nobody decided yet, the goal check's most
  doubtful first; those at or above ``--auto-accept`` are accepted at once (recorded
  as ``labeller="auto"``). Keys: ``a`` accept, ``r`` reject, ``e`` edit, ``s`` skip.
- **Progress** (``/progress``): decisions per code and per annotator, agreement where
  two people decided the same proposal, and the export (JSON Lines that
  ``datasets.load_dataset("json", ...)`` reads).

Every person gives a name (recorded with each decision); ``--token`` makes the app
answer only to requests that carry it (``?token=...`` once, then a cookie). Every
decision is committed to the label store (SQLite by default) before the page
answers; accepted and corrected questions enter the retrieval interviewer's bank at
once. State-changing requests are POSTs checked against a per-session CSRF token;
everything a person typed is shown escaped.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations
# (``Request``, imported inside create_app) at definition time.
import argparse
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convenv.actions import ActionSet
from convenv.agents.base import DialogContext
from convenv.cli import plain
from convenv.errors import InvalidArgumentError, MissingDependencyError
from convenv.training.label_session import calibrated_judge, draw_proposals, teach_interviewer
from convenv.training.label_store import AUTO_LABELLER, DEFAULT_STORE, LabelledExample, LabelStore

MAX_TEXT = 500  # characters of a question or code a person may type
MAX_PERSONA = 2_000
SESSION_COOKIE = "convenv_session"
TOKEN_COOKIE = "convenv_token"
TEMPLATES = Path(__file__).parent / "templates"


def require_web() -> None:
    """The web extra's packages, or one line that says how to get them."""
    try:
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


@dataclass
class Proposal:
    code: str
    question: str
    confidence: float


@dataclass
class Session:
    """One browser's state: who labels, the CSRF token, the dialog and the review queue."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    name: str = ""
    persona: tuple[str, ...] = ()
    history: list[str] = field(default_factory=list)
    pending: Proposal | None = None
    queue: list[Proposal] | None = None
    message: str = ""
    auto_accepted: int = 0


class LabelApp:
    """The app's state and logic, apart from HTTP (the routes call these methods)."""

    def __init__(
        self,
        store: LabelStore,
        components,
        personas,
        auto_accept: float | None = None,
        review_size: int = 50,
        seed: int = 0,
    ) -> None:
        self.store, self.components, self.personas = store, components, list(personas)
        self.actions = ActionSet()
        self.judge = calibrated_judge(components.identifier.encoder, self.actions)
        self.auto_accept, self.review_size = auto_accept, review_size
        self.rng = np.random.default_rng(seed)
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()  # agents and sessions are shared by server threads
        self.draws = 0
        teach_interviewer(components.interviewer, store.training_examples())

    # --- sessions -------------------------------------------------------------------
    def session(self, sid: str | None) -> tuple[str, Session]:
        with self.lock:
            if sid and sid in self.sessions:
                return sid, self.sessions[sid]
            sid = secrets.token_urlsafe(24)
            self.sessions[sid] = Session()
            return sid, self.sessions[sid]

    def sample_persona(self) -> tuple[str, ...]:
        with self.lock:
            return tuple(self.personas[int(self.rng.integers(len(self.personas)))])

    # --- input checks ---------------------------------------------------------------
    def code_from_form(self, code_id: str, new_code: str) -> str:
        """The code prompt a person picked or typed; ValueError with the message to show."""
        new_code = new_code.strip()
        if new_code:
            if len(new_code) > MAX_TEXT:
                raise ValueError(f"The new code is longer than {MAX_TEXT} characters.")
            if not any(ch.isalpha() for ch in new_code):
                raise ValueError("A new code needs words, e.g. 'ask about hobbies.'")
            from convenv.actions import code_from_string

            return code_from_string(new_code).prompt
        if not code_id.isdigit() or int(code_id) >= len(self.actions):
            raise ValueError(f"Unknown code {code_id!r}: pick one of the listed codes.")
        return self.actions[int(code_id)].prompt

    @staticmethod
    def verdict_from_form(verdict: str, correction: str, proposed: str) -> tuple[str, str]:
        """``(verdict, final question)``; ValueError with the message to show."""
        correction = correction.strip()
        if verdict == "accept":
            return "accept", proposed
        if verdict == "reject":
            return "reject", ""
        if verdict == "correct":
            if not correction:
                raise ValueError("The correction is empty: type the right question.")
            if len(correction) > MAX_TEXT:
                raise ValueError(f"The correction is longer than {MAX_TEXT} characters.")
            return ("accept", proposed) if correction == proposed else ("correct", correction)
        raise ValueError(f"Unknown decision {verdict!r}.")

    # --- dialog mode ----------------------------------------------------------------
    def propose(self, state: Session, code: str) -> Proposal:
        with self.lock:
            seed = len(state.history) + self.draws
            self.draws += 1
            (question,) = self.components.interviewer.respond(
                [DialogContext(tuple(state.history), goal=code, seed=seed)]
            )
            confidence = float(self.judge.confidence([question], [code])[0])
        state.pending = Proposal(code, question, confidence)
        return state.pending

    def decide(
        self,
        state: Session,
        proposal: Proposal,
        verdict: str,
        final: str,
        history: tuple[str, ...] = (),
        persona: tuple[str, ...] = (),
        labeller: str | None = None,
    ) -> LabelledExample:
        example = LabelledExample(
            proposal.code,
            proposal.question,
            final,
            verdict,
            history,
            persona,
            labeller or state.name,
        )
        self.store.append(example)  # committed before the page answers
        with self.lock:
            teach_interviewer(self.components.interviewer, [example])
        return example

    def answer(self, state: Session, question: str) -> str:
        with self.lock:
            (reply,) = self.components.partner.respond(
                [DialogContext((*state.history, question), persona=state.persona)]
            )
        state.history += [question, reply]
        return reply

    # --- review mode ----------------------------------------------------------------
    def fill_queue(self, state: Session, rounds: int = 5) -> None:
        """Draw proposals nobody decided, auto-accept the confident ones, order the rest
        most doubtful first; draws again (up to ``rounds`` times) while every proposal
        of a round was accepted automatically."""
        queue: list[Proposal] = []
        for _ in range(rounds):
            with self.lock:
                codes, questions = draw_proposals(
                    self.store,
                    self.components.interviewer,
                    self.actions,
                    self.review_size,
                    seed=int(self.rng.integers(2**31)),
                )
                confidence = self.judge.confidence(questions, codes) if questions else []
                sure = (
                    self.judge.auto_acceptable(questions, codes, self.auto_accept)
                    if questions and self.auto_accept is not None
                    else np.zeros(len(questions), bool)
                )
            drawn = [
                Proposal(c, q, float(p))
                for c, q, p in zip(codes, questions, confidence, strict=True)
            ]
            # Auto-accepted: confident *and* the nearest labelled questions agree.
            for proposal in (p for p, ok in zip(drawn, sure, strict=True) if ok):
                self.decide(state, proposal, "accept", proposal.question, labeller=AUTO_LABELLER)
            state.auto_accepted += int(sure.sum())
            drawn = [p for p, ok in zip(drawn, sure, strict=True) if not ok]
            queue += drawn
            if queue or not questions:
                break
        state.queue = sorted(queue, key=lambda p: p.confidence)

    def take(self, state: Session, code: str, question: str) -> Proposal:
        """The queued proposal a form names (ValueError if it is not in the queue)."""
        for i, proposal in enumerate(state.queue or []):
            if proposal.code == code and proposal.question == question:
                return state.queue.pop(i)
        raise ValueError("That proposal is not in your review queue (decided already?).")

    # --- progress -------------------------------------------------------------------
    def progress(self) -> dict:
        decisions = self.store.decisions()
        per_code: dict[str, dict[str, int]] = {}
        per_person: dict[str, int] = {}
        for d in decisions:
            counts = per_code.setdefault(d.code, {"accept": 0, "correct": 0, "reject": 0})
            counts[d.verdict] += 1
            per_person[d.labeller] = per_person.get(d.labeller, 0) + 1
        by_item: dict[tuple[str, str], dict[str, str]] = {}
        for d in decisions:
            if d.labeller != AUTO_LABELLER:
                by_item.setdefault((d.code, d.proposed), {})[d.labeller] = d.verdict
        pairs = agreeing = 0
        shared = [v for v in by_item.values() if len(v) >= 2]
        for verdicts in shared:
            values = list(verdicts.values())
            for i in range(len(values)):
                for j in range(i + 1, len(values)):
                    pairs += 1
                    agreeing += values[i] == values[j]
        most = max((sum(c.values()) for c in per_code.values()), default=1)
        return {
            "total": len(decisions),
            "per_code": sorted(per_code.items(), key=lambda kv: -sum(kv[1].values())),
            "most": most,
            "per_person": sorted(per_person.items(), key=lambda kv: -kv[1]),
            "shared_items": len(shared),
            "agreement": agreeing / pairs if pairs else None,
        }


def create_app(
    store_path: str | Path,
    components,
    personas,
    token: str | None = None,
    auto_accept: float | None = None,
    review_size: int = 50,
    seed: int = 0,
):
    """The ASGI app over a label store and a set of agents (interviewer, partner,
    identifier whose encoder the goal check uses)."""
    require_web()
    from fastapi import FastAPI, Form, Request
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
    from fastapi.templating import Jinja2Templates

    state_app = LabelApp(
        LabelStore(store_path), components, personas, auto_accept, review_size, seed
    )
    templates = Jinja2Templates(directory=str(TEMPLATES))  # autoescapes .html
    app = FastAPI(title="convenv labels", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.labels = state_app

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def page(request, name: str, sid: str, state: Session, status: int = 200, **context):
        message, state.message = state.message, ""
        response = templates.TemplateResponse(
            request,
            name,
            {"state": state, "actions": state_app.actions, "message": message, **context},
            status_code=status,
        )
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict")
        return response

    def done(request: Request, sid: str, target: str, payload: dict, status: int = 200):
        """JSON for API clients, a redirect back to the page for browsers."""
        if wants_json(request):
            response = JSONResponse(payload, status_code=status)
        else:
            response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict")
        return response

    def refuse(request: Request, sid: str, state: Session, target: str, message: str):
        state.message = message
        return done(request, sid, target, {"error": message}, status=400)

    @app.middleware("http")
    async def check_token(request: Request, call_next):
        if token is None:
            return await call_next(request)
        given = request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE, "")
        if not secrets.compare_digest(given.encode(), token.encode()):
            return HTMLResponse("This labelling app needs its link (with ?token=...).", 403)
        response = await call_next(request)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    def current(request: Request) -> tuple[str, Session]:
        return state_app.session(request.cookies.get(SESSION_COOKIE))

    def csrf_ok(request: Request, state: Session, form_token: str) -> bool:
        given = form_token or request.headers.get("x-csrf-token", "")
        return secrets.compare_digest(given.encode(), state.csrf.encode())

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        sid, state = current(request)
        return done(request, sid, "/dialog" if state.name else "/login", {})

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request):
        sid, state = current(request)
        return page(request, "login.html", sid, state)

    @app.post("/login")
    def login(request: Request, name: str = Form(""), csrf: str = Form("")):
        sid, state = current(request)
        if not csrf_ok(request, state, csrf):
            return refuse(request, sid, state, "/login", "The form expired; try again.")
        name = name.strip()
        if not name or len(name) > 64 or name == AUTO_LABELLER:
            return refuse(request, sid, state, "/login", "Give a name of 1-64 characters.")
        state.name = name
        return done(request, sid, "/dialog", {"name": name, "csrf": state.csrf})

    def named(request: Request):
        sid, state = current(request)
        return sid, state, (None if state.name else RedirectResponse("/login", 303))

    def guard(request: Request, csrf: str, target: str):
        """``(sid, state, response to return instead)`` for a state-changing request:
        a person must have logged in and the form must carry the session's token."""
        sid, state, away = named(request)
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
        if not state.persona:
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
            code = state_app.code_from_form(code_id, new_code)
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
        example = state_app.decide(
            state, proposal, verdict, final, tuple(state.history), state.persona
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
        return done(request, sid, "/review", {"items": items, "csrf": state.csrf})

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
        example = state_app.decide(state, proposal, verdict, final)
        return done(request, sid, "/review", {"verdict": example.verdict, "final": final})

    @app.get("/progress", response_class=HTMLResponse)
    def progress_page(request: Request):
        sid, state, away = named(request)
        if away:
            return away
        return page(request, "progress.html", sid, state, stats=state_app.progress())

    @app.get("/export")
    def export(request: Request):
        target = Path(tempfile.mkdtemp()) / "labels.jsonl"
        state_app.store.export(target)
        return FileResponse(target, media_type="application/x-ndjson", filename="labels.jsonl")

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv serve-labels",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--store", default=DEFAULT_STORE, help="label store (.sqlite or .jsonl)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on")
    parser.add_argument("--token", default=None, help="only requests with this token get in")
    parser.add_argument(
        "--auto-accept", type=float, default=None, help="accept proposals the goal check is sure of"
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
    require_web()
    import uvicorn

    from convenv.personachat import load_personas
    from convenv.training.chat import ChatAgents

    partner, interviewer, identifier = speakers_from_arguments(args)
    app = create_app(
        args.store,
        ChatAgents(partner, interviewer, identifier),
        load_personas("train"),
        args.token,
        args.auto_accept,
        args.review_size,
        args.seed,
    )
    link = f"http://{args.host}:{args.port}/" + (f"?token={args.token}" if args.token else "")
    print(f"labelling app on {link} (store {args.store}); Ctrl-C stops it")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
