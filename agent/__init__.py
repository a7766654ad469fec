"""The site agent: ORT queue, de-identification, upload, download, re-identification, PACS."""
