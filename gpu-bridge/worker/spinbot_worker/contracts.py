"""Validation against the JSON Schema generated from gpu-bridge/contracts/index.ts (zod)."""

from __future__ import annotations

import json
import re
import reprlib
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator, ValidationError, validators

from .errors import StageFailure

# The package lives in gpu-bridge/worker/spinbot_worker; the schemas in gpu-bridge/contracts/schema.
SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "contracts" / "schema"
CONTRACT_VERSION = 1


def _ecma_pattern(validator, pattern, instance, schema):
    """`pattern` with JavaScript semantics: "$" ends the string. Python's "$" also matches before
    a trailing newline, so "abc\\n" would pass here yet fail in zod."""
    if not validator.is_type(instance, "string"):
        return
    python_pattern = re.sub(r"(?<!\\)\$$", r"\\Z", pattern)
    if not re.search(python_pattern, instance):
        yield ValidationError(f"{instance!r} does not match the pattern {pattern}")


ContractValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """name: gpu-job, progress, render-result, stage-error or script-plan."""
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=None)
def validator_for(name: str) -> Draft202012Validator:
    return ContractValidator(load_schema(name))


def _where(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(job)"


def _short_message(error: ValidationError) -> str:
    """jsonschema's message without pages of repr when the offending value is large."""
    if error.validator == "maxItems":
        return f"has {len(error.instance)} items, more than the maximum of {error.validator_value}"
    if error.validator == "minItems":
        return f"has {len(error.instance)} items, fewer than the minimum of {error.validator_value}"
    full = repr(error.instance)
    return error.message.replace(full, reprlib.repr(error.instance)) if len(full) > 60 else error.message


def schema_errors(name: str, data) -> list[str]:
    """Readable problems of data against a schema, empty when valid."""
    schema = load_schema(name)
    branches = schema.get("oneOf")
    if name == "gpu-job" and branches and isinstance(data, dict):
        # Report against the branch the job's `kind` selects: oneOf errors alone say nothing useful.
        kinds = [b["properties"]["kind"]["const"] for b in branches]
        if data.get("kind") not in kinds:
            return [f"kind: {data.get('kind')!r} is not one of {', '.join(kinds)}"]
        branch = branches[kinds.index(data["kind"])]
        checker = ContractValidator({**branch, "$schema": schema.get("$schema")})
    else:
        checker = validator_for(name)
    errors = sorted(checker.iter_errors(data), key=lambda e: list(e.absolute_path))
    return [f"{_where(e)}: {_short_message(e)}" for e in errors]


def validate_job(data) -> dict:
    """The job data if it matches the GpuJob contract, else a non-retryable BAD_INPUT failure."""
    if not isinstance(data, dict):
        raise StageFailure("validate", "BAD_INPUT", "The job data is not a JSON object.", False)
    problems = schema_errors("gpu-job", data)
    if problems:
        shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        raise StageFailure("validate", "BAD_INPUT", f"The job does not match contract v{CONTRACT_VERSION}: {shown}", False)
    return data
