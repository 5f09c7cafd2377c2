"""The Train page: data, model and training panels, their layout, and the training session."""
