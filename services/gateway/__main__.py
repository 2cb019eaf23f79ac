"""Start the gateway: ``python -m services.gateway``."""

from runtime.service import run
from runtime.settings import get_settings
from services.gateway.app import create_app

if __name__ == "__main__":
    run(create_app(), "gateway", get_settings())
