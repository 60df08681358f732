from ..errors import NotAvailableYet


def run(**options):
    raise NotAvailableYet("build", 3)
