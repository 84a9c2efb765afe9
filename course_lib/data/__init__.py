"""Data that needs no network, loaders that keep it on the device, augmentation."""
