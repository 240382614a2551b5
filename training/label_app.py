"""The labelling app's state and logic apart from HTTP: sessions (with expiry and
rotation at log-in), proposals, decisions, the review queue, progress and the
export. :mod:`convenv.training.label_web` puts the routes around it."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from convenv.actions import ActionSet
from convenv.agents.base import DialogContext
from convenv.training.label_accounts import Account, Accounts
from convenv.training.label_session import calibrated_judge, draw_proposals, teach_interviewer
from convenv.training.label_store import AUTO_LABELLER, LabelledExample, LabelStore

MAX_TEXT = 500  # characters of a question or code a person may type
SESSION_HOURS = 8.0  # idle time after which a session must log in again


@dataclass
class Proposal:
    code: str
    question: str
    confidence: float


@dataclass
class Session:
    """One browser's state: who is logged in, the CSRF token, the dialog and the
    review queue (with the proposals the goal check is sure of, held until a POST)."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    account: Account | None = None
    seen: float = field(default_factory=time.monotonic)
    persona: tuple[str, ...] = ()
    history: list[str] = field(default_factory=list)
    pending: Proposal | None = None
    queue: list[Proposal] | None = None
    sure: list[Proposal] = field(default_factory=list)
    message: str = ""
    auto_accepted: int = 0

    @property
    def name(self) -> str:
        return self.account.name if self.account else ""

    @property
    def is_admin(self) -> bool:
        return bool(self.account and self.account.is_admin)


class LabelApp:
    """The app's state and logic, apart from HTTP (the routes call these methods)."""

    def __init__(
        self,
        store: LabelStore,
        accounts: Accounts,
        components,
        personas,
        auto_accept: float | None = None,
        review_size: int = 50,
        seed: int = 0,
        session_hours: float = SESSION_HOURS,
    ) -> None:
        self.store, self.accounts = store, accounts
        self.components, self.personas = components, list(personas)
        self.actions = ActionSet()
        self.judge = calibrated_judge(components.identifier.encoder, self.actions)
        self.auto_accept, self.review_size = auto_accept, review_size
        self.session_seconds = session_hours * 3600
        self.rng = np.random.default_rng(seed)
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()  # agents and sessions are shared by server threads
        self.draws = 0
        teach_interviewer(components.interviewer, store.training_examples())

    # --- sessions -------------------------------------------------------------------
    def session(self, sid: str | None) -> tuple[str, Session]:
        """The live session a cookie names, or a new anonymous one (an expired
        session is dropped: its owner logs in again)."""
        now = time.monotonic()
        with self.lock:
            state = self.sessions.get(sid or "")
            if state is not None and now - state.seen <= self.session_seconds:
                state.seen = now
                return sid, state
            self.sessions.pop(sid or "", None)
            for old in [k for k, v in self.sessions.items() if now - v.seen > self.session_seconds]:
                del self.sessions[old]  # expired sessions never pile up
            sid = secrets.token_urlsafe(24)
            self.sessions[sid] = Session()
            return sid, self.sessions[sid]

    def log_in(self, old_sid: str, name: str, secret: str) -> tuple[str, Session] | None:
        """A new session for the account (the old one is dropped: no fixation), or None
        if the name and secret do not match an account."""
        account = self.accounts.verify(name, secret)
        if account is None:
            return None
        with self.lock:
            self.sessions.pop(old_sid, None)
            sid = secrets.token_urlsafe(24)
            self.sessions[sid] = Session(account=account)
            return sid, self.sessions[sid]

    def log_out(self, sid: str) -> None:
        with self.lock:
            self.sessions.pop(sid, None)

    def sample_persona(self) -> tuple[str, ...]:
        with self.lock:
            return tuple(self.personas[int(self.rng.integers(len(self.personas)))])

    # --- input checks ---------------------------------------------------------------
    def code_from_form(self, state: Session, code_id: str, new_code: str) -> str:
        """The code prompt a person picked or typed; ValueError with the message to show."""
        new_code = new_code.strip()
        if new_code:
            if not state.is_admin:
                raise ValueError("Only an admin may add a code: pick one of the listed codes.")
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
        proposals: list[Proposal],
        verdict: str,
        final: str | None = None,
        history: tuple[str, ...] = (),
        persona: tuple[str, ...] = (),
        labeller: str | None = None,
    ) -> list[LabelledExample]:
        """Store decisions, all in one transaction (the labeller is the session's
        account: nobody decides as someone else); ``final`` None keeps each proposal."""
        examples = [
            LabelledExample(
                p.code,
                p.question,
                p.question if final is None else final,
                verdict,
                history,
                persona,
                labeller or state.name,
            )
            for p in proposals
        ]
        self.store.extend(examples)  # committed before the page answers
        with self.lock:
            teach_interviewer(self.components.interviewer, examples)
        return examples

    def answer(self, state: Session, question: str) -> str:
        with self.lock:
            (reply,) = self.components.partner.respond(
                [DialogContext((*state.history, question), persona=state.persona)]
            )
        state.history += [question, reply]
        return reply

    # --- review mode ----------------------------------------------------------------
    def fill_queue(self, state: Session, rounds: int = 5) -> None:
        """Draw proposals nobody decided and order them most doubtful first; the ones
        the goal check is sure of (with ``--auto-accept``) are held in ``state.sure``
        for a POST to accept. Nothing is stored here: a GET never writes. Draws again
        (up to ``rounds`` times) while every proposal of a round was sure."""
        queue: list[Proposal] = []
        held = {(p.code, p.question) for p in state.sure}
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
                # Sure: confident *and* the nearest labelled questions agree.
                sure = (
                    self.judge.auto_acceptable(questions, codes, self.auto_accept)
                    if questions and self.auto_accept is not None
                    else np.zeros(len(questions), bool)
                )
            for c, q, p, ok in zip(codes, questions, confidence, sure, strict=True):
                if (c, q) not in held:
                    (state.sure if ok else queue).append(Proposal(c, q, float(p)))
                    held.add((c, q))
            if queue or not questions:
                break
        state.queue = sorted(queue, key=lambda p: p.confidence)

    def accept_sure(self, state: Session) -> int:
        """Store the held sure proposals as accepted by ``auto``; how many."""
        sure, state.sure = state.sure, []
        self.decide(state, sure, "accept", labeller=AUTO_LABELLER)
        state.auto_accepted += len(sure)
        return len(sure)

    def take(self, state: Session, code: str, question: str) -> Proposal:
        """The queued proposal a form names (ValueError if it is not in the queue)."""
        for i, proposal in enumerate(state.queue or []):
            if proposal.code == code and proposal.question == question:
                return state.queue.pop(i)
        raise ValueError("That proposal is not in your review queue (decided already?).")

    # --- progress -------------------------------------------------------------------
    def progress(self, account: Account) -> dict:
        """Counts per code and per person, and agreement; a labeller sees only their
        own decisions (other people's work is the admin's to see)."""
        decisions = self.store.decisions()
        if not account.is_admin:
            decisions = [d for d in decisions if d.labeller == account.name]
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
