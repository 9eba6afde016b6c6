"""A ComfyUI protocol server for tests: the real HTTP routes and WebSocket messages, real media out.

What it does as ComfyUI does (server.py / execution.py at the snapshot's commit):
- POST /prompt validates the graph against node definitions (the core /object_info snapshot plus
  the pinned custom node packs' definitions) with installed model files and uploaded inputs filled
  into the loaders' choices, answering 400 {error, node_errors} in ComfyUI's vocabulary;
- runs prompts one at a time and streams status, execution_start, execution_cached, executing,
  progress, progress_state, preview frames (binary), executed, execution_success and executing
  {node: null} to the submitting client_id;
- writes real outputs: PNGs (Pillow) sized from the graph, WebM or MP4 video (ffmpeg), FLAC speech
  (espeak-ng), TrainLoraNode's loss history (PreviewAny text, LossGraphNode picture); serves
  /history, /view, /upload/image, /interrupt, /free, /object_info, /system_stats, /queue, every route
  also under /api.
Faults to inject for the next prompt: an execution_error, a CUDA out-of-memory, a dropped socket,
a restart (everything in memory lost, the port closed for a moment), a prompt that never ends.
GPU memory in /system_stats follows the work: IDLE_VRAM at rest, model_gib more per model a loader
node loaded (kept until /free or a restart, as ComfyUI keeps models), working_gib more while a node runs.

Use in-process: `with ComfyEmulator(models={...}) as comfy: comfy.url`; or as a process:
`python comfyui_emulator.py --port 0 --model diffusion_models/x.safetensors` prints its URL.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import math
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from PIL import Image, ImageDraw

TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR.parent))  # the worker package, when run as a script

from spinbot_worker.comfyui.graph import input_spec, load_object_info, resolve_markers, validate_graph  # noqa: E402

SNAPSHOT_DIR = TESTS_DIR / "fixtures" / "comfyui"
CORE_SNAPSHOT = SNAPSHOT_DIR / "object_info.json.gz"
CUSTOM_SNAPSHOT = SNAPSHOT_DIR / "custom_nodes.json"
GIB = 1024 ** 3
IDLE_VRAM = GIB // 2  # the CUDA context and ComfyUI's own allocations, before any model
IMAGE_SAVERS = {"SaveImage", "PreviewImage"}
VIDEO_SAVERS = {"SaveWEBM", "SaveVideo"}
AUDIO_SAVERS = {"SaveAudio", "SaveAudioMP3", "SaveAudioOpus", "PreviewAudio", "SaveAudioAdvanced"}
OOM_MESSAGE = ("Allocation on device \nThis error means you ran out of memory on your GPU.\n\n"
               "TIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.")


def model_files(*workflows) -> dict[str, list[str]]:
    """folder -> files: what ComfyUI's loaders must list for these workflows (from their manifests)."""
    models: dict[str, list[str]] = {}
    for workflow in workflows:
        for model in workflow.models:
            models.setdefault(model.folder, []).append(model.file)
    return models


def snapshot_object_info() -> dict[str, dict]:
    """Core nodes at the pinned ComfyUI commit plus the pinned custom packs' nodes (markers unresolved)."""
    info = load_object_info(CORE_SNAPSHOT)
    custom = json.loads(CUSTOM_SNAPSHOT.read_text())
    for pack in custom["packs"]:
        info.update(pack["nodes"])
    return info


class ComfyEmulator:
    def __init__(self, models: dict[str, list[str]] | None = None, vram_gib: float = 16.0, step_delay: float = 0.01,
                 port: int = 0, object_info: dict[str, dict] | None = None, model_gib: float = 3.0, working_gib: float = 1.0):
        self.models = {folder: list(files) for folder, files in (models or {}).items()}
        self.vram_total = int(vram_gib * GIB)
        self.step_delay = step_delay
        self.model_bytes, self.working_bytes = int(model_gib * GIB), int(working_gib * GIB)
        self.port = port
        self.base_info = object_info if object_info is not None else snapshot_object_info()
        self.root = Path(tempfile.mkdtemp(prefix="comfyui-emulator-"))
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, json body or None)
        self.submitted: list[dict] = []  # graphs accepted by POST /prompt
        self._faults: list[dict] = []
        self._reset_state()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ---- control (thread-safe enough for tests: the server reads these between awaits) ----
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def install(self, folder: str, *files: str) -> None:
        self.models.setdefault(folder, []).extend(files)

    def uninstall(self, folder: str, file: str) -> None:
        self.models[folder] = [f for f in self.models.get(folder, []) if f != file]

    def inject(self, kind: str, node_type: str | None = None) -> None:
        """Fault for the next prompt: error | oom | missing_model (a listed file fails to load) | drop_socket |
        restart | hang (until /interrupt)."""
        if kind not in ("error", "oom", "missing_model", "drop_socket", "restart", "hang"):
            raise ValueError(f"unknown fault {kind!r}")
        self._faults.append({"kind": kind, "node_type": node_type})

    def calls(self, path: str) -> list[Any]:
        return [body for method, p, body in self.requests if p == path]

    def history_entry(self, prompt_id: str, timeout: float = 5) -> dict:
        """The prompt's /history entry, waiting for it: ComfyUI files it just after the prompt's last message."""
        deadline = time.monotonic() + timeout
        while prompt_id not in self.history:
            if time.monotonic() > deadline:
                raise AssertionError(f"prompt {prompt_id} never reached the history")
            time.sleep(0.02)
        return self.history[prompt_id]

    def object_info(self) -> dict[str, dict]:
        inputs = [p.relative_to(self.input_dir).as_posix() for p in self.input_dir.rglob("*") if p.is_file()]
        # output/loras/ is a loras folder too (the image's extra_model_paths.yaml): uploaded and trained LoRAs.
        trained = sorted(p.name for p in (self.output_dir / "loras").glob("*.safetensors"))
        models = {**self.models, "loras": [*self.models.get("loras", []), *trained]}
        return resolve_markers(self.base_info, models, inputs)

    # ---- life cycle ----
    def start(self) -> "ComfyEmulator":
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start_site())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("ComfyUI emulator did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._stop_site(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "ComfyEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _reset_state(self) -> None:
        """What a ComfyUI process holds in memory (a restart loses it); files on disk stay."""
        self.input_dir = self.root / "input"
        self.output_dir = self.root / "output"
        self.input_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.history: dict[str, dict] = {}
        self.pending: list[tuple[int, str, dict, str]] = []  # (number, prompt_id, graph, client_id)
        self.running: tuple[int, str, dict, str] | None = None
        self.sockets: dict[str, set[web.WebSocketResponse]] = {}
        self.interrupted = False
        self.counter = 0
        self.loaded_models: dict[str, int] = {}  # loader node's class and file -> bytes held on the GPU
        self.working = 0  # bytes the running node uses beyond the models
        self.last_signatures: dict[str, str] = {}
        self.wake = asyncio.Event() if self._loop_running() else None
        self.executor_task: asyncio.Task | None = None

    @staticmethod
    def _loop_running() -> bool:
        try:
            asyncio.get_running_loop()
            return True
        except RuntimeError:
            return False

    async def _start_site(self) -> None:
        self.wake = asyncio.Event()
        app = web.Application(client_max_size=256 * 1024 * 1024, middlewares=[self._record])
        for prefix in ("", "/api"):
            app.router.add_post(prefix + "/prompt", self._post_prompt)
            app.router.add_get(prefix + "/history/{prompt_id}", self._get_history_one)
            app.router.add_get(prefix + "/history", self._get_history)
            app.router.add_get(prefix + "/view", self._view)
            app.router.add_post(prefix + "/upload/image", self._upload)
            app.router.add_post(prefix + "/interrupt", self._interrupt)
            app.router.add_post(prefix + "/free", self._free)
            app.router.add_get(prefix + "/object_info", self._object_info)
            app.router.add_get(prefix + "/object_info/{node_class}", self._object_info_one)
            app.router.add_get(prefix + "/system_stats", self._system_stats)
            app.router.add_get(prefix + "/queue", self._get_queue)
            app.router.add_get(prefix + "/ws", self._websocket)
        # A short shutdown: a restart must not wait for open sockets to finish (ComfyUI dying does not).
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self.executor_task = asyncio.get_running_loop().create_task(self._executor())

    async def _stop_site(self) -> None:
        if self.executor_task:
            self.executor_task.cancel()
        for sockets in list(self.sockets.values()):
            for ws in list(sockets):
                await ws.close()
        if self._runner:
            await self._runner.cleanup()

    async def _restart(self) -> None:
        """As if the ComfyUI process died and came back: sockets cut, port closed, memory empty."""
        await self._stop_site()
        self._reset_state()
        await asyncio.sleep(0.5)
        await self._start_site()

    @web.middleware
    async def _record(self, request: web.Request, handler):
        body = None
        if request.method == "POST" and request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                body = None
        path = request.path[4:] if request.path.startswith("/api/") else request.path
        self.requests.append((request.method, path, body))
        return await handler(request)

    # ---- routes ----
    async def _post_prompt(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": {"type": "invalid_prompt", "message": "Invalid JSON", "details": "", "extra_info": {}},
                                      "node_errors": {}}, status=400)
        graph = body.get("prompt")
        if not isinstance(graph, dict):
            return web.json_response({"error": {"type": "invalid_prompt", "message": "Cannot validate prompt: no prompt",
                                                "details": "", "extra_info": {}}, "node_errors": {}}, status=400)
        errors = validate_graph(graph, self.object_info())
        if errors:
            return web.json_response(_comfy_error_body(errors, graph), status=400)
        self.counter += 1
        prompt_id = body.get("prompt_id") or str(uuid.uuid4())
        client_id = body.get("client_id") or ""
        self.pending.append((self.counter, prompt_id, graph, client_id))
        self.submitted.append(graph)
        self.wake.set()
        await self._broadcast_status()
        return web.json_response({"prompt_id": prompt_id, "number": self.counter, "node_errors": {}})

    async def _get_history_one(self, request: web.Request) -> web.Response:
        prompt_id = request.match_info["prompt_id"]
        entry = self.history.get(prompt_id)
        return web.json_response({prompt_id: entry} if entry else {})

    async def _get_history(self, request: web.Request) -> web.Response:
        return web.json_response(self.history)

    async def _view(self, request: web.Request) -> web.StreamResponse:
        kind = request.query.get("type", "output")
        base = {"output": self.output_dir, "input": self.input_dir, "temp": self.output_dir}.get(kind)
        name, subfolder = request.query.get("filename", ""), request.query.get("subfolder", "")
        path = (base / subfolder / name).resolve() if base else None
        if path is None or not name or base.resolve() not in path.parents or not path.is_file():
            return web.Response(status=404)
        return web.FileResponse(path)

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("image")
        if upload is None or not hasattr(upload, "file"):
            return web.Response(status=400)
        kind = str(form.get("type") or "input")
        subfolder = str(form.get("subfolder") or "")
        folder = (self.input_dir if kind == "input" else self.output_dir) / subfolder
        folder.mkdir(parents=True, exist_ok=True)
        name = Path(upload.filename).name
        if (folder / name).exists() and str(form.get("overwrite", "")).lower() not in ("true", "1"):
            stem, suffix, n = Path(name).stem, Path(name).suffix, 1
            while (folder / f"{stem} ({n}){suffix}").exists():
                n += 1
            name = f"{stem} ({n}){suffix}"
        (folder / name).write_bytes(upload.file.read())
        return web.json_response({"name": name, "subfolder": subfolder, "type": kind})

    async def _interrupt(self, request: web.Request) -> web.Response:
        body = self.requests[-1][2] or {}
        target = body.get("prompt_id")
        if self.running and (target is None or target == self.running[1]):
            self.interrupted = True
        return web.Response(status=200)

    async def _free(self, request: web.Request) -> web.Response:
        if (self.requests[-1][2] or {}).get("unload_models"):
            self.loaded_models.clear()
        return web.Response(status=200)

    def vram_used(self) -> int:
        return IDLE_VRAM + sum(self.loaded_models.values()) + self.working

    async def _object_info(self, request: web.Request) -> web.Response:
        return web.json_response(self.object_info())

    async def _object_info_one(self, request: web.Request) -> web.Response:
        name = request.match_info["node_class"]
        info = self.object_info()
        return web.json_response({name: info[name]} if name in info else {})

    async def _system_stats(self, request: web.Request) -> web.Response:
        return web.json_response({
            "system": {"os": "posix", "ram_total": 64 * GIB, "ram_free": 48 * GIB, "comfyui_version": "0.33.0",
                       "required_frontend_version": "1.25.0", "python_version": sys.version, "pytorch_version": "2.9.1+cu128",
                       "embedded_python": False, "argv": ["main.py", "--listen", "0.0.0.0"]},
            "devices": [{"name": "cuda:0 NVIDIA GeForce RTX 5070 Ti : cudaMallocAsync", "type": "cuda", "index": 0,
                         "vram_total": self.vram_total, "vram_free": max(0, self.vram_total - self.vram_used()),
                         "torch_vram_total": self.vram_used() - IDLE_VRAM, "torch_vram_free": 0}],
        })

    async def _get_queue(self, request: web.Request) -> web.Response:
        def entry(item):
            number, prompt_id, graph, client_id = item
            return [number, prompt_id, graph, {"client_id": client_id}, _output_nodes(graph, self.base_info)]
        return web.json_response({"queue_running": [entry(self.running)] if self.running else [],
                                  "queue_pending": [entry(item) for item in self.pending]})

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        client_id = request.query.get("clientId") or uuid.uuid4().hex
        self.sockets.setdefault(client_id, set()).add(ws)
        await ws.send_json({"type": "status", "data": {"status": self._status(), "sid": client_id}})
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            self.sockets.get(client_id, set()).discard(ws)
        return ws

    # ---- execution ----
    def _status(self) -> dict:
        return {"exec_info": {"queue_remaining": len(self.pending) + (1 if self.running else 0)}}

    async def _broadcast_status(self) -> None:
        for sockets in list(self.sockets.values()):
            for ws in list(sockets):
                await _send(ws, {"type": "status", "data": {"status": self._status()}})

    async def _send_to(self, client_id: str, kind: str, data: dict) -> None:
        for ws in list(self.sockets.get(client_id, ())):
            await _send(ws, {"type": kind, "data": data})

    async def _send_preview(self, client_id: str) -> None:
        """A binary frame as ComfyUI sends previews: event type 1 (PREVIEW_IMAGE), format 2 (PNG), the image."""
        buffer = io.BytesIO()
        Image.new("RGB", (64, 36), (90, 90, 90)).save(buffer, "PNG")
        for ws in list(self.sockets.get(client_id, ())):
            if not ws.closed:
                try:
                    await ws.send_bytes(struct.pack(">II", 1, 2) + buffer.getvalue())
                except (ConnectionError, RuntimeError):
                    pass

    async def _executor(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                self.running = self.pending.pop(0)
                self.interrupted = False
                try:
                    await self._execute(*self.running)
                except _Restarted:
                    return  # a fresh executor runs in the restarted server
                finally:
                    self.working = 0
                    if self.running is not None:
                        self.running = None
                        await self._broadcast_status()

    async def _execute(self, number: int, prompt_id: str, graph: dict, client_id: str) -> None:
        fault = self._faults.pop(0) if self._faults else None
        messages: list = []

        async def say(kind: str, data: dict) -> None:
            data = {**data, "prompt_id": prompt_id}
            if kind in ("execution_start", "execution_cached", "execution_success", "execution_error", "execution_interrupted"):
                messages.append([kind, {**data, "timestamp": int(time.time() * 1000)}])
            await self._send_to(client_id, kind, data)

        def finish(status: str, outputs: dict) -> None:
            self.history[prompt_id] = {
                "prompt": [number, prompt_id, graph, {"client_id": client_id}, _output_nodes(graph, self.base_info)],
                "outputs": outputs,
                "status": {"status_str": status, "completed": status == "success", "messages": messages},
                "meta": {node: {"node_id": node, "display_node": node} for node in outputs},
            }

        await say("execution_start", {"timestamp": int(time.time() * 1000)})
        order = _topological(graph)
        signatures = _signatures(graph, order)
        cached = [n for n in order if signatures[n] == self.last_signatures.get(n)
                  and not self.base_info[graph[n]["class_type"]].get("output_node")]
        self.last_signatures = signatures
        await say("execution_cached", {"nodes": cached, "timestamp": int(time.time() * 1000)})
        outputs: dict[str, dict] = {}
        executed: list[str] = []
        target = None
        if fault and fault["kind"] == "missing_model":
            target = next((n for n in order if n not in cached and "Loader" in graph[n]["class_type"]), None)
        elif fault:
            target = _fault_node(graph, order, cached, fault.get("node_type"))
        for node_id in order:
            if node_id in cached:
                continue
            class_type = graph[node_id]["class_type"]
            await say("executing", {"node": node_id, "display_node": node_id})
            steps = _steps_of(graph[node_id])
            if "Loader" in class_type:  # its model stays on the GPU until /free
                self.loaded_models[signatures[node_id]] = self.model_bytes
            self.working = self.working_bytes if steps > 1 else 0
            if node_id == target and fault["kind"] in ("error", "oom", "missing_model"):
                exception_type, message = {
                    "oom": ("torch.OutOfMemoryError", OOM_MESSAGE),
                    "missing_model": ("FileNotFoundError", f"[Errno 2] No such file or directory: 'models/{class_type}'"),
                }.get(fault["kind"], ("RuntimeError", f"Error while running {class_type}: mat1 and mat2 shapes cannot be multiplied"))
                await say("execution_error", {
                    "node_id": node_id, "node_type": class_type, "executed": executed,
                    "exception_message": message, "exception_type": exception_type,
                    "traceback": ["  File \"execution.py\", line 496, in execute\n"], "current_inputs": {}, "current_outputs": {}})
                finish("error", outputs)
                return
            total = 10 ** 9 if node_id == target and fault["kind"] == "hang" else steps
            for step in range(1, total + 1):
                if self.interrupted:
                    await say("execution_interrupted", {"node_id": node_id, "node_type": class_type, "executed": executed})
                    finish("error", outputs)
                    return
                await asyncio.sleep(self.step_delay)
                if total > 1:
                    await say("progress", {"value": step, "max": total, "node": node_id})
                    # Newer ComfyUI also sends every running node's state, and a binary preview frame.
                    await say("progress_state", {"nodes": {node_id: {
                        "value": step, "max": total, "state": "running", "node_id": node_id, "prompt_id": prompt_id,
                        "display_node_id": node_id, "parent_node_id": None, "real_node_id": node_id}}})
                    if step == 1:
                        await self._send_preview(client_id)
                if step == 1 and node_id == target and fault["kind"] == "drop_socket":
                    for ws in list(self.sockets.get(client_id, ())):
                        await ws.close()
                if step == 1 and node_id == target and fault["kind"] == "restart":
                    asyncio.get_running_loop().create_task(self._restart())
                    raise _Restarted()
            if self.interrupted:
                await say("execution_interrupted", {"node_id": node_id, "node_type": class_type, "executed": executed})
                finish("error", outputs)
                return
            output = await asyncio.to_thread(self._make_output, graph, node_id)
            executed.append(node_id)
            if output is not None:
                outputs[node_id] = output
                await say("executed", {"node": node_id, "display_node": node_id, "output": output})
        # ComfyUI's order: execution_success, then the history entry (task_done), then executing null;
        # a client asking /history right after execution_success can find nothing yet.
        await say("execution_success", {"timestamp": int(time.time() * 1000)})
        await asyncio.sleep(self.step_delay)
        finish("success", outputs)
        await say("executing", {"node": None})

    # ---- media ----
    def _make_output(self, graph: dict, node_id: str) -> dict | None:
        node = graph[node_id]
        class_type, inputs = node["class_type"], node.get("inputs", {})
        prefix = str(inputs.get("filename_prefix", "ComfyUI")).replace("%", "")
        folder = self.output_dir / Path(prefix).parent
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(prefix).name
        subfolder = Path(prefix).parent.as_posix()
        subfolder = "" if subfolder == "." else subfolder
        if class_type == "SaveLoRA":
            # A small but real safetensors file; ComfyUI's counter is 1 + the files with this prefix.
            prefix = Path(str(inputs.get("prefix", "loras/ComfyUI_trained_lora")))
            (self.output_dir / prefix.parent).mkdir(parents=True, exist_ok=True)
            counter = 1 + len(list((self.output_dir / prefix.parent).glob(f"{prefix.name}_*.safetensors")))
            header = json.dumps({"__metadata__": {"ss_network_module": "emulated"},
                                 "lora_unet_down.lora_down.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
            data = struct.pack("<Q", len(header)) + header + struct.pack("<4f", 0.1, 0.2, 0.3, 0.4)
            (self.output_dir / prefix.parent / f"{prefix.name}_{counter:05d}_.safetensors").write_bytes(data)
            return None  # SaveLoRA has no UI output: its file is not in /history
        if class_type in ("LossGraphNode", "PreviewAny") and _loss_source(graph, node_id) is not None:
            losses = _loss_curve(graph, _loss_source(graph, node_id))
            if class_type == "PreviewAny":  # json.dumps of TrainLoraNode's loss map, as the real node shows it
                return {"text": [json.dumps({"loss": losses}, indent=4)]}
            # LossGraphNode: a PreviewImage in the temp folder (its filename_prefix is not used for the file name).
            name = f"ComfyUI_temp_{uuid.uuid4().hex[:5]}_{self.counter:05d}_.png"
            _loss_graph(losses).save(self.output_dir / name)
            return {"images": [{"filename": name, "subfolder": "", "type": "temp"}]}
        if class_type in IMAGE_SAVERS:
            width, height = self._size(graph, node_id)
            name = f"{stem}_{self.counter:05d}_.png"
            source = _upstream_value(graph, node_id, "image")
            source_path = self.input_dir / str(source) if isinstance(source, str) else None
            if source_path is not None and source_path.is_file():
                # An image-to-image workflow (upscale): the picture it was given, at the size the graph makes.
                with Image.open(source_path) as given:
                    given.convert("RGB").resize((width, height), Image.LANCZOS).save(folder / name)
            else:
                _picture(width, height, _prompt_text(graph, node_id)).save(folder / name)
            return {"images": [{"filename": name, "subfolder": subfolder, "type": "output"}]}
        if class_type in VIDEO_SAVERS:
            width, height = self._size(graph, node_id)
            fps = _upstream_value(graph, node_id, "fps") or 24  # SaveWEBM's own, or CreateVideo's for SaveVideo
            frames = self._frames(graph, node_id, fps)
            # SaveWEBM writes VP9 WebM; SaveVideo (auto/mp4) H.264 MP4; the animated-image savers are not emulated.
            webm = class_type == "SaveWEBM" or inputs.get("format") == "webm"
            name = f"{stem}_{self.counter:05d}_.{'webm' if webm else 'mp4'}"
            codec = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"] if webm else \
                ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
            _run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}",
                  "-frames:v", str(frames), *codec, str(folder / name)])
            return {"images": [{"filename": name, "subfolder": subfolder, "type": "output"}], "animated": [True]}
        if class_type in AUDIO_SAVERS:
            text = _upstream_value(graph, node_id, "text") or "Hello from the emulator."
            name = f"{stem}_{self.counter:05d}_.flac"
            wav = folder / f"{name}.wav"
            _run(["espeak-ng", "-w", str(wav), str(text)])
            _run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "flac", str(folder / name)])
            wav.unlink()
            return {"audio": [{"filename": name, "subfolder": subfolder, "type": "output"}]}
        return None

    def _size(self, graph: dict, node_id: str, depth: int = 0) -> tuple[int, int]:
        node = graph[node_id]
        inputs = node.get("inputs", {})
        if depth > 50:
            return 512, 512
        if isinstance(inputs.get("width"), int) and isinstance(inputs.get("height"), int):
            return inputs["width"], inputs["height"]
        if node["class_type"] == "LoadImage":
            path = self.input_dir / str(inputs.get("image", ""))
            if path.is_file():
                with Image.open(path) as image:
                    return image.size
        scale = 1
        if node["class_type"] == "ImageUpscaleWithModel":
            model = graph.get(str(inputs.get("upscale_model", [""])[0]), {}).get("inputs", {}).get("model_name", "")
            scale = 2 if "x2" in str(model).lower() else 4
        for name in ("image", "images", "samples", "latent_image", "pixels", "start_image", "video", "destination"):
            link = inputs.get(name)
            if isinstance(link, list) and str(link[0]) in graph:
                width, height = self._size(graph, str(link[0]), depth + 1)
                return width * scale, height * scale
        return 512, 512

    def _frames(self, graph: dict, node_id: str, fps: float) -> int:
        """A video model's length input; else as long as the audio it is synced to (lip-sync); else the batch."""
        length = _upstream_value(graph, node_id, "length")
        if isinstance(length, int) and length > 0:
            return min(length, 400)
        audio = _upstream_value(graph, node_id, "audio")
        path = self.input_dir / str(audio) if isinstance(audio, str) else None
        if path and path.is_file():
            seconds = float(_run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)]) or 1)
            return max(1, min(int(seconds * fps) + 1, 400))
        amount = _upstream_value(graph, node_id, "amount")
        return min(amount, 400) if isinstance(amount, int) and amount > 0 else int(fps)


class _Restarted(Exception):
    pass


async def _send(ws: web.WebSocketResponse, message: dict) -> None:
    if not ws.closed:
        try:
            await ws.send_str(json.dumps(message))
        except (ConnectionError, RuntimeError):
            pass


def _run(command: list[str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def _comfy_error_body(errors, graph: dict) -> dict:
    """ComfyUI's 400 answer: a missing class is reported alone; input problems per node."""
    first = errors[0]
    if first.type in ("missing_node_type", "invalid_prompt", "prompt_no_outputs", "ui_format"):
        kind = "invalid_prompt" if first.type == "ui_format" else first.type
        message = (f"Node '{first.class_type}' not found. The custom node may not be installed."
                   if first.type == "missing_node_type" else first.message)
        return {"error": {"type": kind, "message": message, "details": f"Node ID '#{first.node_id}'" if first.node_id else "",
                          "extra_info": {"node_id": first.node_id, "class_type": first.class_type}}, "node_errors": {}}
    node_errors: dict[str, dict] = {}
    for error in errors:
        entry = node_errors.setdefault(error.node_id, {"errors": [], "dependent_outputs": [], "class_type": error.class_type})
        entry["errors"].append({"type": error.type, "message": error.message.split(":")[0],
                                "details": f"{error.input_name}: {error.message}",
                                "extra_info": {"input_name": error.input_name, "received_value": error.received}})
    return {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                      "details": "", "extra_info": {}}, "node_errors": node_errors}


def _output_nodes(graph: dict, info: dict) -> list[str]:
    return [n for n, node in graph.items() if info.get(node["class_type"], {}).get("output_node")]


def _links(node: dict) -> list[str]:
    return [str(v[0]) for v in node.get("inputs", {}).values() if isinstance(v, list) and len(v) == 2]


def _topological(graph: dict) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(node_id: str) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        for source in _links(graph[node_id]):
            visit(source)
        order.append(node_id)

    for node_id in graph:
        visit(node_id)
    return order


def _signatures(graph: dict, order: list[str]) -> dict[str, str]:
    """A node's cache key: its class, its typed values and its sources' keys (as ComfyUI's cache)."""
    signatures: dict[str, str] = {}
    for node_id in order:
        node = graph[node_id]
        parts = {k: (signatures[str(v[0])], v[1]) if isinstance(v, list) and len(v) == 2 else v
                 for k, v in sorted(node.get("inputs", {}).items())}
        signatures[node_id] = hashlib.sha256(json.dumps([node["class_type"], parts], default=str).encode()).hexdigest()
    return signatures


def _steps_of(node: dict) -> int:
    for name in ("steps", "inference_steps"):
        value = node.get("inputs", {}).get(name)
        if isinstance(value, int):
            return max(1, min(value, 30))
    return 1


def _fault_node(graph: dict, order: list[str], cached: list[str], node_type: str | None) -> str | None:
    candidates = [n for n in order if n not in cached]
    if node_type:
        return next((n for n in candidates if graph[n]["class_type"] == node_type), None)
    # The busiest node (a sampler) by default, else the last one before the save.
    return max(candidates, key=lambda n: _steps_of(graph[n]), default=None)


def _upstream_value(graph: dict, node_id: str, name: str, seen: set | None = None) -> Any:
    """The first typed value of input `name` on this node or any node it draws from."""
    seen = seen if seen is not None else set()
    if node_id in seen or node_id not in graph:
        return None
    seen.add(node_id)
    inputs = graph[node_id].get("inputs", {})
    value = inputs.get(name)
    if value is not None and not isinstance(value, list):
        return value
    if isinstance(value, list) and len(value) == 2:
        found = _upstream_value(graph, str(value[0]), name, seen)
        if found is not None:
            return found
        if name == "audio" and graph.get(str(value[0]), {}).get("class_type") == "LoadAudio":
            return graph[str(value[0])]["inputs"].get("audio")
    for source in _links(graph[node_id]):
        found = _upstream_value(graph, source, name, seen)
        if found is not None:
            return found
    return None


def _loss_source(graph: dict, node_id: str) -> str | None:
    """The TrainLoraNode whose loss map (output 1) this node reads, if any."""
    link = graph[node_id].get("inputs", {}).get("loss" if graph[node_id]["class_type"] == "LossGraphNode" else "source")
    if isinstance(link, list) and len(link) == 2 and link[1] == 1 and graph.get(str(link[0]), {}).get("class_type") == "TrainLoraNode":
        return str(link[0])
    return None


def _loss_curve(graph: dict, trainer: str) -> list[float]:
    """A plausible loss history, one value per step: noisy, falling from about 0.15 towards 0.06."""
    inputs = graph[trainer]["inputs"]
    steps = int(inputs.get("steps", 16)) * int(inputs.get("grad_accumulation_steps", 1))
    rng = random.Random(int(inputs.get("seed", 0)))
    return [round(0.06 + 0.09 * math.exp(-4 * i / steps) + rng.uniform(-0.015, 0.015), 5) for i in range(steps)]


def _loss_graph(losses: list[float]) -> Image.Image:
    """LossGraphNode's picture: the curve scaled between its min and max, axes, 840x520."""
    width, height, margin = 800, 480, 40
    image = Image.new("RGB", (width + margin, height + margin), "white")
    draw = ImageDraw.Draw(image)
    low, high = min(losses), max(losses)
    points = [(margin + int(i / len(losses) * width), height - int((v - low) / ((high - low) or 1) * height)) for i, v in enumerate(losses)]
    draw.line(points, fill="blue", width=2)
    draw.line([(margin, 0), (margin, height)], fill="black", width=2)
    draw.line([(margin, height), (width + margin, height)], fill="black", width=2)
    draw.text((margin - 30, 0), f"{high:.2f}", fill="black")
    draw.text((margin - 30, height - 10), f"{low:.2f}", fill="black")
    return image


def _prompt_text(graph: dict, node_id: str) -> str:
    return str(_upstream_value(graph, node_id, "text") or "")


def _picture(width: int, height: int, text: str) -> Image.Image:
    """A picture with real structure (gradient, shapes, grain) seeded by the prompt."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    base = tuple(rng.randrange(40, 200) for _ in range(3))
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.blend(image, Image.new("RGB", (width, height), base), 0.5)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(max(4, min(width, height) // 20), max(8, min(width, height) // 4))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description="ComfyUI protocol emulator for tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", action="append", default=[], help="folder/file, e.g. checkpoints/x.safetensors")
    parser.add_argument("--vram-gib", type=float, default=16.0)
    parser.add_argument("--step-delay", type=float, default=0.01, help="seconds per sampler/training step (slow: time to cancel)")
    args = parser.parse_args()
    models: dict[str, list[str]] = {}
    for item in args.model:
        folder, _, file = item.partition("/")
        models.setdefault(folder, []).append(file)
    emulator = ComfyEmulator(models=models, vram_gib=args.vram_gib, port=args.port, step_delay=args.step_delay).start()
    print(f"listening {emulator.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
