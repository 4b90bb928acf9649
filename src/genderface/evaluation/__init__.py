"""Scoring a trained model: metrics and their intervals, the test split and external folders,
scores by group, and what the evaluate stage writes (metrics, plots, predictions, model card)."""
