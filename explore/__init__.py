"""Interactive explorers for the notebooks: the logic as plain functions, the widgets on top.

``shapes`` traces sizes through the course's network (notebook 5), ``lr`` trains it for a few
steps at a chosen learning rate (notebook 4), ``graph`` lays out the autograd graph behind a
loss (notebook 3) and ``losses`` draws the loss functions against the error (notebook 2).
``widgets`` builds the ipywidgets controls on top of them. The formulas and losses come from
``solutions``, so the explorers and the exercises cannot disagree.
"""
