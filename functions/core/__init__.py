"""The domain shared by the Lambda handlers and the portal."""
