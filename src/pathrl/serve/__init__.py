"""`pathrl serve`: the router as an HTTP API (FastAPI), with the playground page when present.

    from pathrl.serve import ServeConfig, create_app
    from pathrl.service import open_service

    app = create_app(open_service(Path("runs/demo/scorer/ppo/model")), ServeConfig(token="s3cret"))
    uvicorn.run(app, host="127.0.0.1", port=8000)

Endpoints (see docs/serve.md): POST /route, POST /query, GET /paths, GET /schema, GET /health;
the OpenAPI docs are at /docs. `create_app` and `ServeConfig` are imported lazily so that
`pathrl --help` does not load FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathrl.serve.app import create_app
    from pathrl.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from pathrl.serve.app import create_app

        return create_app
    if name == "ServeConfig":
        from pathrl.serve.config import ServeConfig

        return ServeConfig
    raise AttributeError(f"module 'pathrl.serve' has no attribute {name!r}")
