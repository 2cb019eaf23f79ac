"""Start the auth service: ``python -m services.auth``."""

from runtime.service import run
from runtime.settings import get_settings
from services.auth.app import create_app

if __name__ == "__main__":
    run(create_app(), "auth", get_settings())
