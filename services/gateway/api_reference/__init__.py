"""The API reference at ``/schema``: Swagger UI from a pinned PyPI package, served by the
gateway itself (no outside origin in the page or its CSP), each file checked against the
digest pinned here before it is served and named in the page's ``integrity`` attributes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin

HERE = Path(__file__).parent
# swagger-ui-bundle-v2==5.31.0 (pyproject.toml) ships Swagger UI 5.31.0 (OpenAPI 3.1); these
# are the digests of the same files in npm's swagger-ui-dist@5.31.0. A new version means new
# digests here (docs/security.md says how to check them).
PINNED = {
    "swagger-ui-bundle.js": (
        "sha384-cxafBeQ+zYROeFafGFxtFbnp1ICqeS9mG7+f0WWSHzhnrUvwg9Za5CCw6wgrHA7K",
        "text/javascript",
    ),
    "swagger-ui.css": (
        "sha384-KX9Rx9vM1AmUNAn07bPAiZhFD4C8jdNgG6f5MRNvR+EfAxs2PmMFtUUazui7ryZQ",
        "text/css",
    ),
}
OWN = {"reference.js": "text/javascript"}


def sri(content: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def swagger_ui_dir() -> Path:
    import swagger_ui_bundle  # type: ignore[import-untyped]

    return Path(swagger_ui_bundle.swagger_ui_path)


def load_assets() -> dict[str, tuple[bytes, str, str]]:
    """name -> (content, media type, integrity); refuses to start on a file that differs from
    its pinned digest (a changed or tampered package)."""
    assets: dict[str, tuple[bytes, str, str]] = {}
    vendor = swagger_ui_dir()
    for name, (digest, media) in PINNED.items():
        content = (vendor / name).read_bytes()
        if sri(content) != digest:
            raise RuntimeError(
                f"{vendor / name} does not match its pinned digest: reinstall"
                " swagger-ui-bundle-v2 at the version pyproject.toml pins"
            )
        assets[name] = (content, media, digest)
    for name, media in OWN.items():
        content = (HERE / name).read_bytes()
        assets[name] = (content, media, sri(content))
    return assets


class ApiReferencePlugin(OpenAPIRenderPlugin):
    """Swagger UI at ``/schema``, its files at ``/schema/assets/<name>``."""

    def __init__(self) -> None:
        super().__init__(path="/swagger")
        self.assets = load_assets()

    def _tag(self, name: str) -> str:
        integrity = self.assets[name][2]
        if name.endswith(".css"):
            return f'<link rel="stylesheet" href="/schema/assets/{name}" integrity="{integrity}">'
        return f'<script src="/schema/assets/{name}" integrity="{integrity}"></script>'

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = str(openapi_schema["info"]["title"])
        spec = self.get_openapi_json_route(request)
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{self._tag("swagger-ui.css")}
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
{self._tag("swagger-ui-bundle.js")}
{self._tag("reference.js")}
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        assets = self.assets

        @get("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
        def asset(name: str) -> Response[bytes]:
            found = assets.get(name)
            if found is None:
                raise NotFoundException()
            content, media, _ = found
            return Response(
                content,
                media_type=media,
                headers={"Cache-Control": "public, max-age=86400"},
            )

        router.register(asset)
