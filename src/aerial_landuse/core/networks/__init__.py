"""Networks: the registry of names and sizes, the torch-free EfficientNet-Lite graph, fine-tuning."""
