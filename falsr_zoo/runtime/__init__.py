"""Inference engines behind one backend interface, and process-level performance settings."""
