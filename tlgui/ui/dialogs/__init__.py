"""Dialogs opened from the menus or a page: weights library, my models, built-in data sets,
data set health, export. A dialog imports no page and no shell module.
"""
