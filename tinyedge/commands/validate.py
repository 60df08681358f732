from ..errors import NotAvailableYet


def run(**options):
    raise NotAvailableYet("validate", 6)
