from ..errors import NotAvailableYet


def run(**options):
    raise NotAvailableYet("inspect", 3)
