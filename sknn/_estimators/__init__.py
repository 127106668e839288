"""The estimator families: MLP, CNN, RNN, Transformer, autoencoder, distillation.

Each family combines the core (:mod:`sknn._core`), an input kind
(:mod:`sknn._input`) and a module factory over :mod:`sknn.modules`.
"""
