"""TL Studio engine: adapt pretrained image and text models from a source to a target domain.

Naming used throughout: ``x_s, y_s`` source inputs and labels; ``x_t, y_t`` target inputs and labels
(``-1`` where unknown); ``f_s, f_t`` features; ``w_s`` per-sample source weights.
"""
__version__ = "0.1.0"
