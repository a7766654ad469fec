"""Resumable, verified S3 transfers, compatible with the AWS Go SDK's upload manager."""
