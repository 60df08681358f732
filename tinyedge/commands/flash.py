from ..errors import NotAvailableYet


def run(**options):
    raise NotAvailableYet("flash", 6)
