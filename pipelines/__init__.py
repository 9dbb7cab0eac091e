"""Declared eegsnn pipelines: one module per pipeline, each defining ``PIPELINE``.

A pipeline is a sequence of stages (``load`` = read -> preprocess -> window/label, then
``split``, ``encode``, ``train``, ``evaluate``, ``baseline``, ``report``) plus the config
defaults a study inherits. Study configs in ``configs/`` name a pipeline
(``pipeline: motor_imagery``) and fill in the rest; see ``pipelines/README.md``.
"""
