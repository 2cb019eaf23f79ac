"""Start the billing service: ``python -m services.billing``."""

from runtime.service import run
from runtime.settings import get_settings
from services.billing.app import create_app

if __name__ == "__main__":
    run(create_app(), "billing", get_settings())
