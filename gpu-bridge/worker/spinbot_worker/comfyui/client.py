"""The one ComfyUI client: submit an API-format graph, follow it to its end, fetch its outputs.

A run listens on the WebSocket (/ws?clientId=) for its prompt's messages and ends on
execution_success, execution_error, execution_interrupted or executing {node: null}. When the
socket drops it reconnects and, meanwhile, reads /history/{id}; when ComfyUI restarted and lost
the prompt (in neither /queue nor /history) it submits it once more. Cancelling sends /interrupt.
Failures become StageFailure {stage, code, message, retryable}: out of GPU memory is retryable
(OOM), a missing model is not and names the file and its folder, a missing node names the class.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import aiohttp

from ..config import redact_url
from ..errors import StageFailure

ProgressCallback = Callable[[float, str], None]  # (percent 0-100 of this run, message)


@dataclass(frozen=True)
class FileRef:
    """A file ComfyUI made or holds: what /view needs to serve it."""
    filename: str
    subfolder: str = ""
    type: str = "output"


@dataclass
class RunResult:
    prompt_id: str
    outputs: dict[str, dict]  # node id -> the node's UI output (images, audio, ...)
    cached_nodes: list[str] = field(default_factory=list)

    def files(self, node_id: str) -> list[FileRef]:
        """Every file a node wrote, whatever its key (images, audio, gifs, video)."""
        found = []
        for value in (self.outputs.get(node_id) or {}).values():
            if isinstance(value, list):
                found.extend(FileRef(v["filename"], v.get("subfolder", ""), v.get("type", "output"))
                             for v in value if isinstance(v, dict) and "filename" in v)
        return found


@dataclass(frozen=True)
class PromptRejected(Exception):
    """ComfyUI answered 400 to POST /prompt: the graph does not fit its nodes or files."""
    error: dict
    node_errors: dict

    def __str__(self) -> str:
        return describe_rejection(self.error, self.node_errors)


@dataclass(frozen=True)
class ModelHint:
    """What a loader input needs, from a workflow's manifest, to name a missing file helpfully."""
    folder: str
    file: str
    download: str = ""


class ComfyClient:
    def __init__(self, base_url: str, *, request_timeout: float = 30, restart_grace: float = 60,
                 client_id: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id or uuid.uuid4().hex
        self.request_timeout = request_timeout
        self.restart_grace = restart_grace  # how long ComfyUI may be gone before a run gives up
        self._session: aiohttp.ClientSession | None = None

    @property
    def display_url(self) -> str:
        """The address for messages and logs: a password in it is replaced by ***."""
        return redact_url(self.base_url)

    async def __aenter__(self) -> "ComfyClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.request_timeout))
        return self._session

    # ---- plain routes ----
    async def object_info(self) -> dict[str, dict]:
        return await self._get_json("/object_info")

    async def system_stats(self) -> dict:
        return await self._get_json("/system_stats")

    async def queue(self) -> dict:
        return await self._get_json("/queue")

    async def history(self, prompt_id: str) -> dict | None:
        """The prompt's history entry once it has finished, else None."""
        return (await self._get_json(f"/history/{prompt_id}")).get(prompt_id)

    async def free(self, unload_models: bool = True, free_memory: bool = True) -> None:
        """Ask ComfyUI to unload models and free VRAM (between stages: one model in memory at a time)."""
        await self._post("/free", {"unload_models": unload_models, "free_memory": free_memory})

    async def interrupt(self, prompt_id: str | None = None) -> None:
        await self._post("/interrupt", {"prompt_id": prompt_id} if prompt_id else {})

    async def upload(self, path: Path, name: str | None = None, subfolder: str = "spinbot", folder_type: str = "input") -> str:
        """Put a file into ComfyUI's input folder (images, audio and video alike go through
        /upload/image); returns the name a LoadImage/LoadAudio input takes. folder_type "output":
        into output/<subfolder>/ (a user's LoRA into output/loras/, which LoraLoader lists)."""
        form = aiohttp.FormData()
        form.add_field("image", path.read_bytes(), filename=name or path.name)
        form.add_field("type", folder_type)
        form.add_field("subfolder", subfolder)
        form.add_field("overwrite", "true")
        async with self.session.post(self.base_url + "/upload/image", data=form) as response:
            await _raise_for_status(response)
            body = await response.json()
        return f"{body['subfolder']}/{body['name']}" if body.get("subfolder") else body["name"]

    async def view(self, ref: FileRef) -> bytes:
        params = {"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type}
        async with self.session.get(self.base_url + "/view", params=params,
                                    timeout=aiohttp.ClientTimeout(total=max(self.request_timeout, 300))) as response:
            await _raise_for_status(response)
            return await response.read()

    async def submit(self, graph: Mapping[str, Any]) -> str:
        async with self.session.post(self.base_url + "/prompt", json={"prompt": graph, "client_id": self.client_id}) as response:
            if response.status == 400:
                body = await response.json(content_type=None)
                raise PromptRejected(body.get("error") or {}, body.get("node_errors") or {})
            await _raise_for_status(response)
            return (await response.json())["prompt_id"]

    # ---- a whole run ----
    async def run(self, graph: Mapping[str, Any], *, stage: str, timeout: float = 1800,
                  progress: ProgressCallback | None = None, cancelled: Callable[[], bool] = lambda: False,
                  model_hints: Mapping[tuple[str, str], ModelHint] | None = None) -> RunResult:
        """Submit and follow to the end; a StageFailure for anything but success.
        model_hints: (node id, input name) -> the model file that input needs, to name it when missing."""
        deadline = time.monotonic() + timeout
        resubmitted = False
        ws = None
        try:
            ws = await self._connect()  # before submitting: no message of the prompt can be missed
            prompt_id = await self.submit(graph)
        except (PromptRejected, aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            if ws is not None:
                await ws.close()
            if isinstance(error, PromptRejected):
                raise rejection_failure(stage, error, model_hints or {}) from error
            raise StageFailure(stage, "BACKEND_UNAVAILABLE", f"ComfyUI at {self.display_url} is not reachable ({_reason(error)}).", True) from error
        state = _RunState(prompt_id, hints=model_hints or {})
        try:
            while True:
                outcome = await self._follow(ws, state, stage, deadline, progress, cancelled)
                if outcome == "done":
                    entry = await self.history(state.prompt_id) or {}
                    return RunResult(state.prompt_id, entry.get("outputs") or state.outputs, state.cached)
                # The socket dropped: reconnect (ComfyUI may be restarting), then see where the prompt is.
                ws, entry, queued = await self._reconnect(stage, deadline, state.prompt_id)
                if entry is not None:
                    _raise_for_history(stage, entry, state)
                    return RunResult(state.prompt_id, entry.get("outputs") or {}, state.cached)
                if not queued:
                    if resubmitted:
                        raise StageFailure(stage, "INTERNAL", "ComfyUI restarted twice during this step and lost the work both times.", True)
                    resubmitted = True  # ComfyUI restarted and forgot it: run it again once
                    state = _RunState(await self.submit(graph), hints=model_hints or {})
        except asyncio.CancelledError:
            await _quietly(self.interrupt(state.prompt_id))
            raise
        finally:
            if ws is not None and not ws.closed:
                await ws.close()

    async def _follow(self, ws, state: "_RunState", stage: str, deadline: float,
                      progress: ProgressCallback | None, cancelled: Callable[[], bool]) -> str:
        """Read messages until the prompt ends ("done") or the socket drops ("dropped")."""
        asked_at = 0.0
        while True:
            # Asking may cost a round trip (the worker reads the cancel key in Redis): twice a second at most.
            if not state.interrupt_sent and time.monotonic() - asked_at >= 0.5:
                asked_at = time.monotonic()
                if cancelled():
                    state.interrupted_at = time.monotonic()
                    await _quietly(self.interrupt(state.prompt_id))
            if time.monotonic() > deadline:
                await _quietly(self.interrupt(state.prompt_id))
                raise StageFailure(stage, "TIMEOUT", "ComfyUI did not finish this step in time; it was stopped.", True)
            try:
                message = await ws.receive(timeout=0.25)
            except asyncio.TimeoutError:
                if state.interrupted_at is not None and time.monotonic() - state.interrupted_at > 10:
                    raise StageFailure(stage, "CANCELLED", "Cancelled by the user.", False)
                continue
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                                aiohttp.WSMsgType.ERROR):
                return "dropped"
            if message.type != aiohttp.WSMsgType.TEXT:
                continue  # binary frames are previews
            event = json.loads(message.data)
            kind, data = event.get("type"), event.get("data") or {}
            if data.get("prompt_id") not in (None, state.prompt_id):
                continue
            if kind == "execution_cached":
                state.cached = list(data.get("nodes") or [])
            elif kind == "progress" and progress is not None and data.get("max"):
                progress(100 * data["value"] / data["max"], f"step {data['value']}/{data['max']}")
            elif kind == "executed" and data.get("node") is not None:
                state.outputs[str(data["node"])] = data.get("output") or {}
            elif kind == "execution_success":
                return "done"
            elif kind == "executing" and data.get("node") is None and data.get("prompt_id") == state.prompt_id:
                return "done"
            elif kind == "execution_error":
                raise execution_failure(stage, data, state.hints)
            elif kind == "execution_interrupted":
                if state.interrupt_sent:
                    raise StageFailure(stage, "CANCELLED", "Cancelled by the user.", False)
                raise StageFailure(stage, "INTERNAL", "Someone stopped this step in ComfyUI (interrupted); trying again.", True)

    async def _connect(self):
        url = self.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + f"/ws?clientId={self.client_id}"
        return await self.session.ws_connect(url, heartbeat=30)

    async def _reconnect(self, stage: str, deadline: float, prompt_id: str):
        """A new socket, the prompt's history entry (None: not finished) and whether it is queued."""
        give_up = min(deadline, time.monotonic() + self.restart_grace)
        delay = 0.2
        while True:
            ws = None
            try:
                ws = await self._connect()
                entry = await self.history(prompt_id)
                return ws, entry, entry is None and await self._in_queue(prompt_id)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                if ws is not None:
                    await ws.close()
                if time.monotonic() + delay > give_up:
                    raise StageFailure(stage, "BACKEND_UNAVAILABLE",
                                       f"Lost ComfyUI at {self.display_url} during this step and it did not come back ({_reason(error)}).", True) from error
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    async def _in_queue(self, prompt_id: str) -> bool:
        queue = await self.queue()
        return any(item[1] == prompt_id for item in [*queue.get("queue_running", []), *queue.get("queue_pending", [])])

    async def _get_json(self, path: str) -> Any:
        async with self.session.get(self.base_url + path) as response:
            await _raise_for_status(response)
            return await response.json()

    async def _post(self, path: str, body: dict) -> None:
        async with self.session.post(self.base_url + path, json=body) as response:
            await _raise_for_status(response)


@dataclass
class _RunState:
    prompt_id: str
    outputs: dict[str, dict] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    interrupted_at: float | None = None  # when we asked ComfyUI to stop this prompt
    hints: Mapping[tuple[str, str], ModelHint] = field(default_factory=dict)  # to name a model file that failed to load

    @property
    def interrupt_sent(self) -> bool:
        return self.interrupted_at is not None


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    if response.status >= 400:
        text = (await response.text())[:300]
        raise aiohttp.ClientResponseError(response.request_info, response.history, status=response.status,
                                          message=f"{response.reason}: {text}")


async def _quietly(awaitable) -> None:
    try:
        await awaitable
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        pass


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def is_oom(data: Mapping[str, Any]) -> bool:
    text = f"{data.get('exception_type', '')} {data.get('exception_message', '')}".lower()
    return "outofmemory" in text or "out of memory" in text or "allocation on device" in text


def execution_failure(stage: str, data: Mapping[str, Any], hints: Mapping[tuple[str, str], ModelHint] | None = None) -> StageFailure:
    node = f"{data.get('node_type') or 'a node'} (node {data.get('node_id')})"
    if is_oom(data):
        return StageFailure(stage, "OOM", f"The GPU ran out of memory in {node}; retrying at a smaller size.", True)
    missing = [hint for (node_id, _), hint in (hints or {}).items() if node_id == str(data.get("node_id"))]
    text = f"{data.get('exception_type', '')} {data.get('exception_message', '')}"
    if missing and ("FileNotFoundError" in text or "No such file" in text):
        # Listed by the loader, gone (or unreadable) when it loaded: as missing as a file never installed.
        hint = missing[0]
        return StageFailure(stage, "BACKEND_UNAVAILABLE",
                            f"ComfyUI could not load the model file {hint.folder}/{hint.file}: put it (again) in ComfyUI's "
                            f"models/{hint.folder}/ folder" + (f" (download: {hint.download})." if hint.download else "."), False)
    message = str(data.get("exception_message") or "").strip().splitlines()
    return StageFailure(stage, "INTERNAL", f"ComfyUI failed in {node}: {message[0] if message else data.get('exception_type')}", True)


def _raise_for_history(stage: str, entry: Mapping[str, Any], state: _RunState) -> None:
    status = entry.get("status") or {}
    if status.get("status_str") != "error":
        return
    for kind, data in status.get("messages") or []:
        if kind == "execution_error":
            raise execution_failure(stage, data, state.hints)
        if kind == "execution_interrupted":
            if state.interrupt_sent:
                raise StageFailure(stage, "CANCELLED", "Cancelled by the user.", False)
            raise StageFailure(stage, "INTERNAL", "Someone stopped this step in ComfyUI (interrupted); trying again.", True)
    raise StageFailure(stage, "INTERNAL", "ComfyUI reported an error for this step without details.", True)


def describe_rejection(error: Mapping[str, Any], node_errors: Mapping[str, Any]) -> str:
    parts = [str(error.get("message") or error.get("type") or "invalid prompt")]
    for node_id, entry in node_errors.items():
        for item in entry.get("errors", []):
            parts.append(f"node {node_id} ({entry.get('class_type')}): {item.get('details') or item.get('message')}")
    return "; ".join(parts)


def rejection_failure(stage: str, rejected: PromptRejected, hints: Mapping[tuple[str, str], ModelHint]) -> StageFailure:
    """A 400 from POST /prompt as the user should read it: which node or model file is missing."""
    error = rejected.error
    if error.get("type") == "missing_node_type":
        class_type = (error.get("extra_info") or {}).get("class_type") or error.get("message")
        return StageFailure(stage, "BACKEND_UNAVAILABLE",
                            f"ComfyUI has no node {class_type!r}: install the custom node pack the workflow needs (see deploy/comfyui.Dockerfile).", False)
    for node_id, entry in rejected.node_errors.items():
        for item in entry.get("errors", []):
            input_name = (item.get("extra_info") or {}).get("input_name")
            hint = hints.get((str(node_id), str(input_name)))
            if item.get("type") == "value_not_in_list" and hint is not None:
                where = f" (download: {hint.download})" if hint.download else ""
                return StageFailure(stage, "BACKEND_UNAVAILABLE",
                                    f"ComfyUI is missing the model file {hint.folder}/{hint.file}: put it in ComfyUI's models/{hint.folder}/ folder{where}.", False)
    return StageFailure(stage, "BAD_INPUT", f"ComfyUI refused the workflow: {rejected}", False)
