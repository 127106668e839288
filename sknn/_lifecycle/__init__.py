"""What happens to a network after, or around, its fit: fine-tuning, export, compression.

Works on any fitted estimator through the core's interface; never imports an
estimator family.
"""
