"""The read-only web UI over the fleet store (``chainwarden serve``)."""
