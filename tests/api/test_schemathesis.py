"""Property-based fuzzing of a running server from its own /openapi.json (Schemathesis).

Zero 5xx responses and zero responses that violate the documented schema, status codes or
content types. Bounded: routes that share one handler are fuzzed once (the per-category write
routes through three categories, the pending queue through its v2 mount), a few examples per
operation, one worker; about a minute on the project machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelref.domain.actors import Actor
from modelref.service.container import Services
from modelref.settings import Settings
from tests.api.servers import running

pytestmark = pytest.mark.slow

SAME_HANDLER = (
    r"^/api/model_references/v2/(blip|clip|codeformer|controlnet|controlnet_annotator|esrgan|"
    r"gfpgan|safety_checker|video_generation|audio_generation|lora|ti)(/model/\{model_name\})?$"
    r"|^/api/model_references/v1/pending_queue/"
)
CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)


def test_fuzz_the_running_server(tmp_path: Path, sqlite_url: str, corpus_dir: Path) -> None:
    st = Path(sys.executable).with_name("schemathesis")
    if not st.exists() and shutil.which("schemathesis") is None:
        pytest.fail("schemathesis is a test dependency (pip install -e '.[test]')")
    url = sqlite_url
    services = Services.open(Settings(database_url=url))
    services.files.import_path(corpus_dir / "v2", Actor("1", "admin#1"))
    key = services.keys.create("2002", "bob#2002", "approver")
    services.db.dispose()
    with running(tmp_path, {"MODELREF_DATABASE_URL": url}) as server:
        result = subprocess.run(
            [
                str(st) if st.exists() else "schemathesis",
                "run",
                f"{server.url}/openapi.json",
                "--header",
                f"apikey: {key}",
                "--checks",
                CHECKS,
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "5",
                "--workers",
                "1",
                "--no-shrink",
                "--seed",
                "20261126",
                "--exclude-path-regex",
                SAME_HANDLER,
                "--request-timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        log = server.output()
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "Traceback" not in log, log[-20000:]
