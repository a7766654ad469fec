"""Resumable, verified S3 transfers, compatible with the AWS Go SDK's upload manager."""

from transfer.download import DownloadResult, download_object, download_prefix
from transfer.errors import AuthError, IntegrityError, RetriesExhausted, TransferError
from transfer.progress import Progress
from transfer.retry import Retry
from transfer.upload import UploadResult, upload_file

__all__ = [
    "AuthError",
    "DownloadResult",
    "IntegrityError",
    "Progress",
    "RetriesExhausted",
    "Retry",
    "TransferError",
    "UploadResult",
    "download_object",
    "download_prefix",
    "upload_file",
]
