"""`python -m spinbot_worker.comfyui [--url URL]`: the preflight report (what `npm start -- doctor` prints)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from ..config import comfyui_url, models_dir
from .client import ComfyClient
from .preflight import commercial_safe_mode, describe_gpu, preflight
from .workflows import load_workflows


async def report(url: str, commercial_safe: bool, models: Path | None = None) -> list[str]:
    refused: list[str] = []
    workflows = load_workflows(refused=refused)
    async with ComfyClient(url, request_timeout=10) as client:
        try:
            header = f"ComfyUI at {client.display_url}: {describe_gpu(await client.system_stats())}"
        except Exception as error:  # noqa: BLE001 - the lines below say it per workflow
            header = f"ComfyUI at {client.display_url}: not reachable ({str(error) or type(error).__name__})"
        results = await preflight(client, workflows, commercial_safe, models)
    mode = " (commercial-safe mode)" if commercial_safe else ""
    return [header + mode, *(r.line() for r in sorted(results, key=lambda r: r.workflow.stage)), *refused]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spinbot_worker.comfyui", description="GPU workflows: what can run")
    parser.add_argument("--url", help="ComfyUI's address (default: COMFYUI_URL)")
    args = parser.parse_args(argv)
    problems: list[str] = []
    url = comfyui_url({"COMFYUI_URL": args.url} if args.url else os.environ, problems)
    models = models_dir(os.environ, problems)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    if not url:
        print("GPU stages: off (COMFYUI_URL is not set); every stage runs on its CPU backend.")
        return 0
    print("\n".join(asyncio.run(report(url, commercial_safe_mode(), models))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
