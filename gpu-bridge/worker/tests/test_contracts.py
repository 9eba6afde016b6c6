"""The worker accepts exactly the jobs the TypeScript side's zod contract accepts."""

import json

import pytest
from bullmq import UnrecoverableError

from spinbot_worker.contracts import schema_errors, validate_job
from spinbot_worker.errors import StageFailure, unexpected
from support import CONTRACT_FIXTURES, contract_fixture

FIXTURES = sorted(p.name for p in CONTRACT_FIXTURES.glob("*.json"))


def test_there_are_fixtures_of_both_kinds():
    assert any(n.startswith("valid-") for n in FIXTURES) and any(n.startswith("invalid-") for n in FIXTURES)


@pytest.mark.parametrize("name", [n for n in FIXTURES if n.startswith("valid-")])
def test_valid_fixture_is_accepted(name):
    data = contract_fixture(name)
    assert schema_errors("gpu-job", data) == []
    assert validate_job(data) is data


@pytest.mark.parametrize("name", [n for n in FIXTURES if n.startswith("invalid-")])
def test_invalid_fixture_is_rejected_as_bad_input(name):
    with pytest.raises(StageFailure) as caught:
        validate_job(contract_fixture(name))
    error = caught.value.to_dict()
    assert error["stage"] == "validate" and error["code"] == "BAD_INPUT" and error["retryable"] is False
    assert schema_errors("stage-error", error) == []


def test_rejection_names_the_offending_field():
    with pytest.raises(StageFailure) as caught:
        validate_job(contract_fixture("invalid-scene-seconds.json"))
    assert "plan.scenes[0].seconds" in caught.value.message and "30" in caught.value.message


def test_patterns_follow_javascript_semantics():
    # Python's "$" accepts a trailing newline; zod rejects it, so must the worker.
    assert schema_errors("gpu-job", contract_fixture("valid-render.json", jobId="fixture-render-001\n"))
    assert schema_errors("gpu-job", contract_fixture("valid-render.json", referenceImageKey="uploads/a.png\n"))


def test_stage_failures_tell_the_queue_whether_to_retry():
    final = StageFailure("train_voice", "NO_GPU", "Voice training needs a GPU worker; none is available on this machine.")
    assert isinstance(final.to_queue_error(), UnrecoverableError)
    assert json.loads(str(final.to_queue_error())) == final.to_dict()

    transient = StageFailure("tts", "OOM", "Out of GPU memory.")
    assert transient.retryable and not isinstance(transient.to_queue_error(), UnrecoverableError)

    bug = unexpected("visuals", RuntimeError("boom"))
    assert (bug.stage, bug.code, bug.retryable) == ("visuals", "INTERNAL", True)
    for error in (final, transient, bug):
        assert schema_errors("stage-error", error.to_dict()) == []
