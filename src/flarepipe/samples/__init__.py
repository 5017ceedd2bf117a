"""What a sample is and its label: quality flags, samplers, label tasks, splits. No torch here."""
