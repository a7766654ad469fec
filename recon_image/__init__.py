"""The reconstruction worker that AWS Batch runs: raw data readers, FFTW pipelines, DICOM out.

Its contract with the backend (``YC_TASK_UUID``, ``YC_USER``, ``YC_INPUT``,
``YC_OUTPUT``, ``YC_MODE``, ``YC_PARAM``, ``YC_VCPUS``; ``failure.json`` in the
output prefix with a reason on the user's data) is in the README's worker section; the local
cloud runs this same entry point, ``python -m recon_image``, for every job.
"""
