"""axe-core in a browser test's page (pinned in package.json, copied beside the browser tests by
the Makefile): the violations it finds, as readable lines."""

from __future__ import annotations

import json
from pathlib import Path

AXE = Path(__file__).parents[1] / "browser" / "vendor" / "axe.min.js"


def violations(page, where: str) -> list[str]:
    assert AXE.exists(), f"{AXE} is missing: `make test` (or `make {AXE.relative_to(Path.cwd())}`) copies it from npm"
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{where}: {v['id']} ({v['impact']}): {v['help']} at " + json.dumps([node["target"] for node in v["nodes"]][:5])
        for v in found
    ]
