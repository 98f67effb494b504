"""(being written)"""

SPECS: list = []
