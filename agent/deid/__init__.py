"""De-identification of raw data and task files before anything leaves the site.

TWIX files (VB, VD/VE/XA) become equal-length patches applied while
uploading; MRD files a de-identified copy; task files keep only the keys the
cloud needs. Whatever cannot be de-identified safely raises ``DeidRefused``.

Import from the modules (``agent.deid.twix`` …): the package imports none of
them, so de-identifying a TWIX file never loads HDF5 and numpy.
"""
