"""chainwarden: defend the software supply chain of images and packages."""
