"""Backbones (registry + adapters) and the classifier model."""
from tlcore.models.registry import BACKBONES, BackboneSpec, resolve_spec

__all__ = ["BACKBONES", "BackboneSpec", "resolve_spec", "create_backbone", "Classifier"]


def __getattr__(name):  # lazy: importing the registry must not import torch
    if name == "create_backbone":
        from tlcore.models.backbones import create_backbone

        return create_backbone
    if name == "Classifier":
        from tlcore.models.classifier import Classifier

        return Classifier
    raise AttributeError(name)
