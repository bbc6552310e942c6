"""docs/cluster.md's main example is a working app on the embedded coordinator."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cluster.md"


def test_cluster_page_example_runs() -> None:
    """Leader task, config callback, service registry and /whoami work without Redis."""
    block = PAGE.read_text().split("```python\n")[1].split("```", 1)[0]
    namespace: dict[str, object] = {"__name__": "cluster_example"}
    exec(compile(block, "cluster.md", "exec"), namespace)
    app = namespace["app"]
    with TestClient(app) as client:  # type: ignore[arg-type]
        who = client.get("/whoami").json()
        assert who["leader"] is True
        assert who["epoch"] == 1
        assert who["members"] == [who["node"]]
        assert len(who["search"]) == 1
        assert client.post("/flags", json={"beta": True}).json() == {"version": 1}
        assert client.post("/flags", json={"beta": False}).json() == {"version": 2}
        assert app.state.flags == {"beta": False}  # type: ignore[attr-defined]
        assert namespace["reports"] == [1]
