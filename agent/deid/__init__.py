"""De-identification of raw data and task files before anything leaves the site.

TWIX files (VB, VD/VE/XA) become equal-length patches applied while
uploading; MRD files a de-identified copy; task files keep only the keys the
cloud needs. Whatever cannot be de-identified safely raises ``DeidRefused``.
"""

from agent.deid.mrd import deidentify_mrd
from agent.deid.result import Deidentified
from agent.deid.taskfile import deidentify_task_file
from agent.deid.twix import deidentify_twix

__all__ = ["Deidentified", "deidentify_mrd", "deidentify_task_file", "deidentify_twix"]
