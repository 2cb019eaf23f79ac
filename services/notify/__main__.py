"""Start the notify service: ``python -m services.notify``."""

from runtime.service import run
from runtime.settings import get_settings
from services.notify.app import create_app

if __name__ == "__main__":
    run(create_app(), "notify", get_settings())
