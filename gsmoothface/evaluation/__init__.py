"""Evaluation: image, landmark and vertex metrics, SyncNet scores, report writers."""
