"""Start the readings service: ``python -m services.readings``."""

from runtime.service import run
from runtime.settings import get_settings
from services.readings.app import create_app

if __name__ == "__main__":
    run(create_app(), "readings", get_settings())
