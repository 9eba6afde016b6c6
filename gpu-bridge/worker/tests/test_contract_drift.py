"""The worker's copies of contract facts cannot drift from gpu-bridge/contracts/index.ts, their one source."""

import json
import re

from spinbot_worker import errors, render
from support import REPO_ROOT

CONTRACT_TS = (REPO_ROOT / "gpu-bridge" / "contracts" / "index.ts").read_text()
STAGE_ERROR = json.loads((REPO_ROOT / "gpu-bridge" / "contracts" / "schema" / "stage-error.schema.json").read_text())["properties"]


def test_every_error_code_of_the_contract_has_a_retry_rule_and_no_other():
    assert set(errors.RETRYABLE_BY_CODE) == set(STAGE_ERROR["code"]["enum"]) == set(errors.ERROR_CODES)


def test_stage_names_and_the_message_limit_are_the_contracts():
    assert errors.STAGES == tuple(STAGE_ERROR["stage"]["enum"])
    assert errors.MAX_MESSAGE_CHARS == STAGE_ERROR["message"]["maxLength"]


def test_frame_sizes_match_the_contracts():
    block = re.search(r"export const FRAME_SIZES[^=]*=\s*\{(.*?)\};", CONTRACT_TS, re.S).group(1)
    sizes = {aspect: (int(w), int(h)) for aspect, w, h in
             re.findall(r"'([\d:]+)':\s*\{\s*width:\s*(\d+),\s*height:\s*(\d+)\s*\}", block)}
    assert sizes and render.FRAME_SIZES == sizes
