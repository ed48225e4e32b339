"""Interactive explorers for the notebooks: the logic as plain functions, the widgets on top.

``shapes`` traces sizes through the course's network (notebook 5), ``lr`` trains it for a few
steps at a chosen learning rate (notebook 4), ``graph`` lays out the autograd graph behind a
loss (notebook 3) and ``losses`` draws the loss functions against the error (notebook 2).
``widgets`` builds the ipywidgets controls on top of them. They ship to students, so they never
import ``solutions``: sizes and losses come from PyTorch itself (what the exercises' tests compare
against), the network from ``given``; ``tests/test_explore.py`` checks them against the references.
"""
