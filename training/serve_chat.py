"""``convenv serve-chat``: a model behind a minimal OpenAI-compatible chat API.

Serves a chat-template model (a directory, a hub name, a GGUF file or ``smollm2``)
at ``/v1/chat/completions`` and ``/v1/models``, so ``partner="openai"`` (and Ray
workers, and any OpenAI client) can use a local model the way they use vLLM, TGI or
llama.cpp's server. Requests that arrive together are answered in one batched
``generate`` call. It generates with its own settings (``--greedy`` or sampling);
a request's ``seed`` seeds its batch.
"""

# No ``from __future__ import annotations``: FastAPI reads the request models'
# annotations at definition time.
import argparse
import queue
import threading
import time
from concurrent.futures import Future

from convenv.cli import plain

# How long the batcher waits for more requests after the first of a batch.
GATHER_SECONDS = 0.01


class Batcher:
    """Collects concurrent requests into one batched reply call on a worker thread."""

    def __init__(self, agent, max_batch: int = 32) -> None:
        self.agent, self.max_batch = agent, max_batch
        self.requests: queue.Queue = queue.Queue()
        threading.Thread(target=self._work, daemon=True, name="convenv-batcher").start()

    def reply(self, messages: list[dict], seed: int | None) -> str:
        future: Future = Future()
        self.requests.put((messages, seed, future))
        return future.result()

    def _work(self) -> None:
        while True:
            batch = [self.requests.get()]
            deadline = time.monotonic() + GATHER_SECONDS
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.requests.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            seed = next((s for _, s, _ in batch if s is not None), None)
            try:
                replies = self.agent.reply_to_messages([m for m, _, _ in batch], seed)
            except Exception as err:  # every waiting request learns why
                for _, _, future in batch:
                    future.set_exception(err)
                continue
            for (_, _, future), reply in zip(batch, replies, strict=True):
                future.set_result(reply)


def create_app(agent, model_name: str):
    """The ASGI app serving ``agent`` (a :class:`~convenv.agents.chat_model.ChatModelAgent`)."""
    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel

    class Message(BaseModel):
        role: str
        content: str

    class Completion(BaseModel):
        model: str
        messages: list[Message]
        seed: int | None = None
        max_tokens: int | None = None
        temperature: float | None = None
        top_p: float | None = None

    batcher = Batcher(agent)
    app = FastAPI(title="convenv serve-chat", docs_url=None, redoc_url=None)

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model"}]}

    @app.post("/v1/chat/completions")
    def complete(request: Completion):
        if request.model != model_name:
            raise HTTPException(404, f"model {request.model!r} is not served; {model_name!r} is")
        if not request.messages:
            raise HTTPException(400, "messages is empty")
        reply = batcher.reply([m.model_dump() for m in request.messages], request.seed)
        return {
            "id": f"chatcmpl-{time.time_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "finish_reason": "stop",
                }
            ],
        }

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convenv serve-chat",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--model", default="smollm2", help="a chat model: directory, hub name, .gguf or smollm2"
    )
    parser.add_argument("--name", default=None, help="the name clients ask for (unset: --model)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda:N")
    parser.add_argument(
        "--greedy", action="store_true", help="decode greedily (else sample, seeded per batch)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=48, help="longest reply")
    args = parser.parse_args(argv)
    from convenv.model_source import check_model_name
    from convenv.training.label_web import port_is_free, require_web

    require_web()
    check_model_name(args.model)
    port_is_free(args.host, args.port)  # before the model loads: one line if taken
    import uvicorn

    from convenv.agents.chat_model import ChatModelAgent

    agent = ChatModelAgent(
        args.model, device=args.device, do_sample=not args.greedy,
        max_new_tokens=args.max_new_tokens,
    )  # fmt: skip
    name = args.name or args.model
    print(f"serving {name} on http://{args.host}:{args.port}/v1 ; Ctrl-C stops it", flush=True)
    uvicorn.run(create_app(agent, name), host=args.host, port=args.port, log_level="warning")
    return 0
