"""The model and its training: VGG16 under a head, augmentation inside, devices and precision,
the fit and its resume state, the model file, and the one forward pass for inference."""
