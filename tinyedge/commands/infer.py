from ..errors import NotAvailableYet


def run(**options):
    raise NotAvailableYet("infer", 4)
