"""Training: the config, the options declared once, data, the GAN step, losses, validation, the loop."""
