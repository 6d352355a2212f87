"""Classifiers: the trained Spark ML model and its record, SynapseML LightGBM."""
