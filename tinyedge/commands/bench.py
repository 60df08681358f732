from ..errors import NotAvailableYet


def run(**options):
    raise NotAvailableYet("bench", 7)
