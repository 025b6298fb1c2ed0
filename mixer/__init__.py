"""MLP-Mixer models, data pipeline and training task for UNSW-NB15 intrusion detection."""
