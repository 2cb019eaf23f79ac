"""The gateway's handle on the services: one concurrent request/reply client per process."""

from __future__ import annotations

from typing import Any

from litestar.datastructures import State

from runtime.rpc_client import RpcClient


def rpc_of(state: State) -> RpcClient:
    client: Any = state.rpc
    assert isinstance(client, RpcClient)
    return client
