"""Budgeted training of one network: the protocol, optimiser, device placement and the datasets."""
